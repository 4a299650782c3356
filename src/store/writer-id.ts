/**
 * This clone's writer id: the name of the one ledger it writes (`refs/flor/ledgers/<writer>`),
 * kept in `flor.writer` and made on first use.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FlorError } from '../errors.js';
import { git, repoCwd, type RepoInfo } from './git.js';
import { configValue, forgetConfig } from './git-config.js';

function validWriter(w: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(w);
}

async function configWriter(repo: RepoInfo): Promise<string | null> {
  return configValue(repo, 'flor.writer')?.trim() || null;
}

/**
 * This clone's writer id (`flor.writer` in config), made when missing. Concurrent first runs must
 * agree on one id, so the id is first claimed with an atomic link(2) of a file under
 * `.git/flor/`; every racer then writes the same value into config.
 */
export async function ensureWriter(repo: RepoInfo): Promise<string> {
  const have = await configWriter(repo);
  if (have) {
    if (!validWriter(have)) {
      throw new FlorError('BAD_WRITER', `flor.writer ${JSON.stringify(have)} is not a valid writer id`, {
        hint: 'use letters, digits, - and _ (`git config flor.writer <id>`), or unset it and delete .git/flor/writer to get a new one',
      });
    }
    return have;
  }
  const dir = join(repo.commonDir, 'flor');
  mkdirSync(dir, { recursive: true });
  const claim = join(dir, 'writer');
  const tmp = join(dir, `writer.${process.pid}.${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, randomBytes(8).toString('hex') + '\n');
  try {
    linkSync(tmp, claim);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
  const id = readFileSync(claim, 'utf8').trim();
  if (!validWriter(id)) throw new FlorError('BAD_WRITER', `${claim} holds an invalid writer id`, { hint: `remove ${claim} and run again` });
  for (let i = 0; ; i++) {
    try {
      await git(['config', 'flor.writer', id], { cwd: repoCwd(repo) });
      forgetConfig(repo);
      return id;
    } catch (e) {
      // Another process holds config.lock for a moment; same value either way.
      forgetConfig(repo);
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
      const now = await configWriter(repo);
      if (now === id) return id;
    }
  }
}
