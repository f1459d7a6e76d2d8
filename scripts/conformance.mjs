// The OCI conformance suite (opencontainers/runtime-tools' validation tests)
// against bin/ocirun, compared with test/conformance/expected.txt.
//
//   node scripts/conformance.mjs [--rebuild] [TEST...]
//
// The suite comes from OCIRUN_RUNTIME_TOOLS, a checkout of
// opencontainers/runtime-tools or a .tar.gz of one (commit 260e151 is the
// last that builds with Debian 12's Go 1.19), or else from
// ../shared/conformance/runtime-tools-*.tar.gz beside this repository. It is built once (Go and make, its modules vendored,
// nothing downloaded) into $XDG_CACHE_HOME/ocirun/ (~/.cache/ocirun/), one
// directory per source; --rebuild builds it again.
//
// Each test runs as the suite's README says (from the build directory, with
// RUNTIME naming the runtime), with ocirun given a state root of its own, so
// that what a test leaves behind can be deleted. A test passes when it exits
// 0 without "not ok" and, when it plans no assertions ("1..0"), without a
// YAML diagnostic block (the hook tests report only failures). Exit status 1
// when a test the list says must pass fails, or the list and the suite
// disagree on which tests exist; a test that passes but is not on the list is
// reported, so that the list can grow.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const OCIRUN = path.join(REPO, 'bin/ocirun');
const EXPECTED = path.join(REPO, 'test/conformance/expected.txt');
const SHARED = path.resolve(REPO, '../shared/conformance');
const TEST_TIMEOUT_MS = 60_000;
const REASONS = ['host', 'test', 'spec', 'compat', 'ocirun'];

const { values: flags, positionals: only } = parseArgs({
  options: { rebuild: { type: 'boolean', default: false } },
  allowPositionals: true,
});

function fail(message) {
  console.error(`conformance: ${message}`);
  process.exit(1);
}

if (process.getuid?.() !== 0) fail('the suite creates containers: run it as root');

/** Where the suite's source is, and the name of its build in the cache. */
function suiteSource() {
  const given = process.env.OCIRUN_RUNTIME_TOOLS;
  if (given?.endsWith('.tar.gz')) return tarballSource(given);
  const checkout = given;
  if (checkout) {
    if (!existsSync(path.join(checkout, 'validation')))
      fail(`OCIRUN_RUNTIME_TOOLS=${checkout} is not a checkout of opencontainers/runtime-tools (no validation/)`);
    const head = spawnSync('git', ['-C', checkout, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' });
    const key = head.status === 0 ? head.stdout.trim() : createHash('sha256').update(path.resolve(checkout)).digest('hex').slice(0, 12);
    return { kind: 'checkout', from: path.resolve(checkout), key };
  }
  const tarball = existsSync(SHARED) ? readdirSync(SHARED).find((f) => /^runtime-tools-.*\.tar\.gz$/.test(f)) : undefined;
  if (!tarball) fail('set OCIRUN_RUNTIME_TOOLS to a checkout of https://github.com/opencontainers/runtime-tools (commit 260e151 builds with Go 1.19)');
  return tarballSource(path.join(SHARED, tarball));
}

function tarballSource(file) {
  if (!existsSync(file)) fail(`${file} does not exist`);
  return { kind: 'tarball', from: path.resolve(file), key: createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12) };
}

/** Builds the validation tests and runtimetest once; returns the build directory. */
function buildSuite(source) {
  const cache = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'ocirun');
  const dest = path.join(cache, `runtime-tools-${source.key}`);
  if (!flags.rebuild && existsSync(path.join(dest, 'runtimetest')) && existsSync(path.join(dest, 'validation/create/create.t'))) return dest;
  if (spawnSync('go', ['version']).status !== 0) fail('go is not installed (Debian: apt-get install golang-go make)');
  console.log(`conformance: building runtime-tools from ${source.from} into ${dest}`);
  const part = `${dest}.part`;
  rmSync(part, { recursive: true, force: true });
  mkdirSync(part, { recursive: true });
  const copy =
    source.kind === 'tarball'
      ? spawnSync('tar', ['-xzf', source.from, '-C', part, '--strip-components=1'])
      : spawnSync('sh', ['-c', 'tar -C "$1" --exclude=./.git -cf - . | tar -C "$2" -xf -', 'copy', source.from, part]);
  if (copy.status !== 0) fail(`copying the suite's source: ${copy.stderr}`);
  const env = { ...process.env, GOFLAGS: '-mod=vendor', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOCACHE: path.join(part, '.gocache') };
  const make = spawnSync('make', ['runtimetest', 'validation-executables'], { cwd: part, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (make.status !== 0)
    fail(`building the suite failed (make exited ${make.status ?? make.signal}):\n${`${make.stdout}${make.stderr}`.split('\n').slice(-30).join('\n')}`);
  rmSync(path.join(part, '.gocache'), { recursive: true, force: true });
  rmSync(dest, { recursive: true, force: true });
  renameSync(part, dest);
  return dest;
}

/** test/conformance/expected.txt: name → { pass: true } or { pass: false, reason }. */
function readExpected() {
  const expected = new Map();
  readFileSync(EXPECTED, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const at = `test/conformance/expected.txt:${i + 1}`;
      if (line.trim() === '' || line.startsWith('#')) return;
      const [, name, status, reason] = /^(\S+)\s+(\S+)\s*(.*)$/.exec(line) ?? [];
      if (expected.has(name)) fail(`${at}: ${name} is listed twice`);
      if (status === 'pass' && reason === '') expected.set(name, { pass: true });
      else if (status === 'fail' && REASONS.some((r) => reason.startsWith(`${r}: `))) expected.set(name, { pass: false, reason });
      else fail(`${at}: want "NAME pass" or "NAME fail REASON" with REASON starting ${REASONS.map((r) => `"${r}: "`).join(', ')}`);
    });
  return expected;
}

/** Passed, by the suite README's rule; with the lines that say why not. */
function verdict(result) {
  const out = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error?.code === 'ETIMEDOUT') return { pass: false, why: `timed out after ${TEST_TIMEOUT_MS / 1000}s` };
  const notOk = out.split('\n').filter((l) => l.startsWith('not ok'));
  if (notOk.length > 0) return { pass: false, why: notOk.join('; ') };
  if (result.status !== 0) return { pass: false, why: `exited ${result.status ?? result.signal}: ${out.trim().split('\n').slice(-1)[0] ?? ''}` };
  if (/^1\.\.0$/m.test(out) && /^\s+---$/m.test(out)) return { pass: false, why: 'diagnostics from a test that plans no assertions' };
  return { pass: true, why: '' };
}

/** The diagnostic lines after each "not ok" (or the output's end), for a failure that needs a look. */
function diagnostics(text) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('not ok'));
  return (start >= 0 ? lines.slice(start, start + 25) : lines.slice(-15)).map((l) => `    | ${l}`).join('\n');
}

const source = suiteSource();
const suite = buildSuite(source);
const expected = readExpected();
const tests = readdirSync(path.join(suite, 'validation'))
  .filter((name) => existsSync(path.join(suite, 'validation', name, `${name}.t`)))
  .sort();
const unlisted = tests.filter((t) => !expected.has(t));
const gone = [...expected.keys()].filter((t) => !tests.includes(t));
if (unlisted.length > 0) fail(`test/conformance/expected.txt has no line for ${unlisted.join(', ')}`);
if (gone.length > 0) fail(`test/conformance/expected.txt lists tests the suite does not have: ${gone.join(', ')}`);
const unknown = only.filter((t) => !tests.includes(t));
if (unknown.length > 0) fail(`no such test: ${unknown.join(', ')}`);
const selected = only.length > 0 ? only : tests;

// ocirun with a state root of its own, so that whatever a test leaves is found and deleted.
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-conformance-'));
const stateRoot = path.join(scratch, 'root');
const runtime = path.join(scratch, 'ocirun');
writeFileSync(runtime, `#!/bin/sh\nexec '${OCIRUN}' --root '${stateRoot}' "$@"\n`);
chmodSync(runtime, 0o755);
const logs = path.join(path.dirname(suite), 'conformance-logs');
rmSync(logs, { recursive: true, force: true });
mkdirSync(logs, { recursive: true });

const started = Date.now();
const failedMustPass = [];
const newlyPassing = [];
let passed = 0;
try {
  for (const name of selected) {
    const t0 = Date.now();
    const result = spawnSync(path.join(suite, 'validation', name, `${name}.t`), {
      cwd: suite,
      env: { ...process.env, RUNTIME: runtime },
      encoding: 'utf8',
      timeout: TEST_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 64 << 20,
    });
    const seconds = `${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(6);
    writeFileSync(path.join(logs, `${name}.tap`), `${result.stdout ?? ''}${result.stderr ?? ''}`);
    const leftovers = existsSync(stateRoot) ? readdirSync(stateRoot) : [];
    for (const id of leftovers) spawnSync(runtime, ['delete', '--force', id]);
    const { pass, why } = verdict(result);
    const want = expected.get(name);
    if (pass) passed++;
    if (pass && want.pass) {
      console.log(`pass      ${name.padEnd(36)} ${seconds}`);
    } else if (pass) {
      newlyPassing.push(name);
      console.log(`NEW PASS  ${name.padEnd(36)} ${seconds}  (listed as: ${want.reason})`);
    } else if (want.pass) {
      failedMustPass.push(name);
      console.log(`FAIL      ${name.padEnd(36)} ${seconds}  ${why}`);
      console.log(diagnostics(`${result.stdout ?? ''}${result.stderr ?? ''}`));
    } else {
      console.log(`fail      ${name.padEnd(36)} ${seconds}  ${want.reason}`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const mustPass = selected.filter((t) => expected.get(t).pass).length;
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(`\nconformance: ${passed}/${selected.length} tests pass; ${mustPass - failedMustPass.length}/${mustPass} of those that must (${minutes} min)`);
if (newlyPassing.length > 0) console.log(`conformance: now passing, mark them "pass" in test/conformance/expected.txt: ${newlyPassing.join(' ')}`);
if (failedMustPass.length > 0) console.log(`conformance: MUST PASS but failed: ${failedMustPass.join(' ')}`);
console.log(`conformance: each test's output is in ${logs}`);
process.exit(failedMustPass.length > 0 ? 1 : 0);
