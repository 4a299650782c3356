import { FlorError } from '../errors.js';

/**
 * `--since` accepts what Git's own `--since` does ("2 days ago", "yesterday", an ISO date), so
 * flor and `git log` agree; an ISO date is parsed locally to skip a process.
 */
export function parseSince(text: string, now = Date.now()): number {
  const iso = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.test(text.trim()) ? Date.parse(text.trim()) : NaN;
  if (!Number.isNaN(iso)) return iso;
  const rel = /^(\d+)\s*(second|minute|hour|day|week|month|year)s?(\s+ago)?$/i.exec(text.trim().replace(/\./g, ' '));
  if (rel) {
    const unit = { second: 1e3, minute: 6e4, hour: 36e5, day: 864e5, week: 6048e5, month: 2592e6, year: 31536e6 }[rel[2]!.toLowerCase() as 'day'];
    return now - Number(rel[1]) * unit;
  }
  if (/^(today|yesterday)$/i.test(text.trim())) {
    const d = new Date(now);
    d.setHours(0, 0, 0, 0);
    return d.getTime() - (/^yesterday$/i.test(text.trim()) ? 864e5 : 0);
  }
  throw new FlorError('BAD_DATE', `cannot read the date '${text}'`, {
    hint: "use an ISO date (2026-01-31, 2026-01-31T12:00Z) or a relative one ('3 days ago', '12 hours')",
  });
}
