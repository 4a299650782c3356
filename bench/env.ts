/** The environment benches run git and node in: a fixed identity, no system config, no inherited replay or index. */
export function benchEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...process.env, GIT_AUTHOR_NAME: 'Bench', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'b@example.com', GIT_CONFIG_NOSYSTEM: '1',
  };
  delete e.FLOR_REPLAY;
  delete e.GIT_DIR;
  delete e.GIT_INDEX_FILE;
  return e;
}
