/**
 * Replay plans travel with `git flor push` / `git flor fetch` (and a plain `git push`, through the
 * pre-push hook): `refs/flor/plans/<id>` under the same name on every clone. A plan's id is the hash of its content and a plan is never changed,
 * so neither direction ever forces: a ref of that name elsewhere is the same plan.
 */
import type { RepoInfo } from '../store/git.js';
import { FlorError } from '../errors.js';
import { PLANS } from '../store/refs.js';
import { pushRefspecTo, refListing } from '../store/transfer.js';
import { resolveRemote } from './refspecs.js';

export const PLAN_REFSPEC = `${PLANS}*:${PLANS}*`;

export interface PlansPushed {
  /** Plans the remote did not have. */
  pushed: string[];
  upToDate: number;
}

/** Pushes every plan of this clone that `remote` lacks. */
export async function pushPlans(repo: RepoInfo, remote?: string): Promise<PlansPushed> {
  if ((await refListing(repo, PLANS)) === '') return { pushed: [], upToDate: 0 };
  const r = resolveRemote(repo, remote, 'push');
  const res = await pushRefspecTo(repo, r.arg, PLAN_REFSPEC);
  const lines = res.stdout.toString().split('\n').filter((l) => l.includes(`\t${PLANS}`));
  const refused = lines.filter((l) => l[0] === '!');
  if (res.code !== 0 || refused.length) {
    const why = refused[0]?.split('\t')[2] ?? res.stderr.trim().split('\n').find((l) => /^(fatal|error):/.test(l)) ?? res.stderr.trim();
    throw new FlorError('PUSH_FAILED', `could not push replay plans to ${r.arg}: ${why}`, { hint: 'check the remote with `git push --dry-run`', data: { stderr: res.stderr } });
  }
  const ref = (l: string): string => l.split('\t')[1]!.split(':')[0]!.slice(PLANS.length);
  return { pushed: lines.filter((l) => l[0] !== '=').map(ref), upToDate: lines.filter((l) => l[0] === '=').length };
}
