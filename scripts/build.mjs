// Build: compile the config schemas into validator code, then bundle the CLI
// with esbuild into CommonJS: dist/ocirun.cjs with every command, and smaller
// bundles for the commands engines call per container (src/main-*.ts). Single files and CommonJS
// because Node starts a CommonJS main without its ES module loader (measured:
// ~15 ms and ~2 MiB less per command). Each command's modules stay behind
// `import()`, which esbuild turns into lazy initialisers, so a command still
// runs only the code it uses. koffi stays external: it is a native addon.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSchemas } from './compile-schemas.mjs';
import { ocirunNodeFlags } from './node-flags.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// One bundle per entry: dist/<name>.cjs. bin/ocirun picks one by the command.
const ENTRIES = {
  ocirun: 'src/main.ts',
  'ocirun-query': 'src/main-query.ts',
  'ocirun-start': 'src/main-start.ts',
  'ocirun-delete': 'src/main-delete.ts',
  'ocirun-create': 'src/main-create.ts',
};

await compileSchemas(repoRoot);
rmSync(path.join(repoRoot, 'dist'), { recursive: true, force: true });
// commander requires node:child_process at load (for executable subcommands,
// which ocirun has none of), and with it net and streams: ~10 ms per command.
// It gets a stand-in that loads the real module only if it is ever used.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: 'lazy-child-process', namespace: 'ocirun' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'ocirun' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, src]) => [name, path.join(repoRoot, src)])),
  outdir: path.join(repoRoot, 'dist'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.cjs' },
  external: ['koffi'],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  plugins: [lazyChildProcess],
  logLevel: 'warning',
});

// Pure ASCII source (a regex holds µ): V8 then keeps the bundle's text as a
// one-byte string, half the memory of a two-byte one. A \u escape means the
// same in strings, templates, regexes and identifiers.
for (const name of Object.keys(ENTRIES)) {
  const bundleFile = path.join(repoRoot, 'dist', `${name}.cjs`);
  writeFileSync(
    bundleFile,
    readFileSync(bundleFile, 'utf8').replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
}

// The code cache, made and checked under bin/ocirun's flags (read from its
// shebang) and environment (it drops NODE_OPTIONS, which could change V8's
// flags and so void the cache).
const flags = ocirunNodeFlags(repoRoot);
const env = { ...process.env };
delete env.NODE_OPTIONS;
delete env.NODE_EXTRA_CA_CERTS;
const codeCache = (...args) => spawnSync(process.execPath, [...flags, path.join(repoRoot, 'scripts/code-cache.cjs'), ...args], { encoding: 'utf8', env });
// Every function compiled in (see code-cache.cjs); should V8 refuse such a
// cache, one with what a warm-up of the commands compiles.
let made;
for (const mode of ['eager', 'warm-up']) {
  const cache = codeCache(mode);
  if (cache.status !== 0) throw new Error(`build: making the code cache failed: ${cache.stderr}`);
  if (codeCache('--check').status === 0) {
    made = mode;
    break;
  }
}
if (!made) throw new Error('build: V8 rejects the code cache it just made');
