// Writes <bundle>.cache for each bundle in dist/: the V8 code cache bin/ocirun
// loads it with. Run with the same Node flags as bin/ocirun (V8 rejects a
// cache made under other flags). Commands run first, against an empty state
// directory, so that the functions every command goes through (option
// parsing, the state store, error reports) are compiled into the cache too.
'use strict';
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BUNDLES, compileBundle, runBundle, cacheFileOf } = require('../bin/ocirun');

if (process.argv[2] === '--check') {
  const rejected = Object.values(BUNDLES).filter((file) => compileBundle(file, readFileSync(cacheFileOf(file))).cachedDataRejected);
  process.exit(rejected.length > 0 ? 1 : 0);
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-cache-'));
const root = path.join(scratch, 'root');
const lifecycle = [
  ['--root', root, 'list'],
  ['--root', root, 'list', '--format', 'json'],
  ['--root', root, 'state', 'none'],
  ['--root', root, 'start', 'none'],
  ['--root', root, 'kill', 'none', 'KILL'],
  ['--root', root, 'delete', 'none'],
  ['--root', root, 'delete', '--force', 'none'],
];
const warmUp = {
  light: lifecycle,
  full: [...lifecycle, ['--root', root, 'create', '--bundle', path.join(scratch, 'none'), 'none']],
};

(async () => {
  try {
    for (const [name, file] of Object.entries(BUNDLES)) {
      const script = compileBundle(file, undefined);
      const { main } = runBundle(script, file);
      // Their output (errors about a container that does not exist) is not wanted.
      for (const argv of warmUp[name]) await main(argv);
      writeFileSync(cacheFileOf(file), script.createCachedData());
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
})();
