/**
 * Most end-to-end tests run the built dist/ (through bin/git-flor and `import 'git-flor'`), so a
 * test file run on its own after an edit of src/ would silently test the old code. `npm test`
 * builds first; this stops every other way of running a test with a clear message instead.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export function staleDist(root: string): string | null {
  const src = join(root, 'src');
  const walk = (dir: string): string | null => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        const r = walk(p);
        if (r) return r;
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(root, 'dist', relative(src, p)).replace(/\.ts$/, '.js');
        let built: number;
        try {
          built = statSync(out).mtimeMs;
        } catch {
          return `${relative(root, out)} is missing`;
        }
        if (statSync(p).mtimeMs > built) return `${relative(root, p)} is newer than ${relative(root, out)}`;
      }
    }
    return null;
  };
  return walk(src);
}

export function assertDistFresh(root: string): void {
  const why = staleDist(root);
  if (why) throw new Error(`dist/ is stale (${why}): run \`npm run build\` first (npm test does it for you)`);
}
