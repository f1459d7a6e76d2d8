// Writes dist/ocirun.cjs.cache, the V8 code cache bin/ocirun loads the bundle
// with. Run with the same Node flags as bin/ocirun (V8 rejects a cache made
// under other flags). The commands below run first, against an empty state
// directory, so that the functions every command goes through (option
// parsing, the state store, error reports) are compiled into the cache too.
'use strict';
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { compileBundle, runBundle, cacheFile } = require('../bin/ocirun');

if (process.argv[2] === '--check') {
  process.exit(compileBundle(require('node:fs').readFileSync(cacheFile)).cachedDataRejected ? 1 : 0);
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-cache-'));
const root = path.join(scratch, 'root');
const script = compileBundle(undefined);
const { main } = runBundle(script);
const warmUp = [
  ['--root', root, 'list'],
  ['--root', root, 'list', '--format', 'json'],
  ['--root', root, 'state', 'none'],
  ['--root', root, 'start', 'none'],
  ['--root', root, 'kill', 'none', 'KILL'],
  ['--root', root, 'delete', 'none'],
  ['--root', root, 'delete', '--force', 'none'],
  ['--root', root, 'create', '--bundle', path.join(scratch, 'none'), 'none'],
];
(async () => {
  try {
    // Their output (errors about a container that does not exist) is not wanted.
    for (const argv of warmUp) await main(argv);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  writeFileSync(cacheFile, script.createCachedData());
})();
