// The package entry. The library is compiled to dist/ by `npm run build`: a checkout installed
// without that build says so here, instead of Node's bare "Cannot find module .../dist/…".
// It imports the runtime's module itself, which exports the errors too: each module between a
// script and the runtime costs its start a resolve, read, compile and link.
let lib;
try {
  lib = await import('./dist/runtime/index.js');
} catch (e) {
  const entry = new URL('./dist/runtime/index.js', import.meta.url);
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(entry.pathname)) {
    throw new Error(`git-flor is not built: run \`npm run build\` in ${new URL('.', import.meta.url).pathname}`);
  }
  throw e;
}
export const { flor, FlorError, isFlorError, FLOR_ERROR_CODES } = lib;
