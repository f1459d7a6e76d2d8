// Build: compile the config schemas into validator code, then bundle the CLI
// with esbuild into dist/ (one entry plus one chunk per command group, so a
// command loads only what it uses). koffi stays external: it is a native addon.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSchemas } from './compile-schemas.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

await compileSchemas(repoRoot);
// Chunk names carry content hashes: clear the old ones.
rmSync(path.join(repoRoot, 'dist'), { recursive: true, force: true });
await build({
  entryPoints: { ocirun: path.join(repoRoot, 'src/main.ts') },
  outdir: path.join(repoRoot, 'dist'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  external: ['koffi'],
  minifySyntax: true,
  legalComments: 'none',
  // commander is CommonJS and requires Node's built-ins.
  banner: { js: "import { createRequire as __ocirunRequire } from 'node:module'; const require = __ocirunRequire(import.meta.url);" },
  logLevel: 'warning',
});
