// npm run bench (as root): median wall time and peak RSS of each lifecycle
// command for ocirun, runc and crun (when installed), and of the floor
// (`node -e 0`), all measured in the same run, printed as one table with
// ratios. Machines are noisy: compare within a run, never across runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBundle } from '../fixtures/bundle.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 100);

if (process.getuid?.() !== 0) {
  console.error('bench: containers need root; run it with sudo');
  process.exit(1);
}

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-bench-'));

// crun refuses hybrid cgroups; it runs in a mount namespace without the empty cgroup2 mount.
const crunWrapper = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"', 'crun'];
const runtimes = [
  { name: 'ocirun', argv: [path.join(repo, 'bin/ocirun')] },
  ...(have('runc') ? [{ name: 'runc', argv: ['runc'] }] : []),
  ...(have('crun') ? [{ name: 'crun', argv: crunWrapper }] : []),
];

/**
 * Wall ms and peak RSS KiB of one command, through GNU time's %M. No pipes:
 * a created container inherits the caller's stdio and would hold them open.
 */
function measure(argv) {
  const report = path.join(scratch, 'time.out');
  const start = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-o', report, '-f', '%M', ...argv], { stdio: 'ignore' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  const output = readFileSync(report, 'utf8').trim().split('\n');
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${output.join(' ')}`);
  return { wall, rss: Number(output.pop()) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// crun 1.8 refuses ociVersion 1.3.0 ("unknown version specified"): every runtime gets 1.0.2-dev.
const olderVersion = (c) => (c.ociVersion = '1.0.2-dev');
const bundle = makeBundle({ args: ['/bin/true'], mutate: olderVersion });
const sleeper = makeBundle({ args: ['sleep', '1000'], mutate: olderVersion });
const results = new Map(); // `${runtime}:${command}` -> {wall, rss}
const record = (key, samples) =>
  results.set(key, { wall: median(samples.map((s) => s.wall)), rss: Math.max(...samples.map((s) => s.rss)) });

record('floor:node -e 0', Array.from({ length: ROUNDS }, () => measure(['node', '-e', '0'])));

for (const rt of runtimes) {
  const root = path.join(scratch, rt.name);
  const cli = (...args) => [...rt.argv, '--root', root, ...args];
  const samples = { create: [], start: [], state: [], kill: [], delete: [], list: [], 'run /bin/true': [] };
  for (let i = 0; i < ROUNDS; i++) {
    const id = `bench-${process.pid}-${i}`;
    samples.create.push(measure(cli('create', '--bundle', sleeper.dir, id)));
    samples.start.push(measure(cli('start', id)));
    samples.state.push(measure(cli('state', id)));
    samples.list.push(measure(cli('list')));
    samples.kill.push(measure(cli('kill', id, 'KILL')));
    spawnSync('sleep', ['0.05']);
    samples.delete.push(measure(cli('delete', id)));
    samples['run /bin/true'].push(measure(cli('run', '--bundle', bundle.dir, `bench-run-${process.pid}-${i}`)));
  }
  for (const [command, s] of Object.entries(samples)) record(`${rt.name}:${command}`, s);

  const sh = (argv) => execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < SEQUENTIAL; i++) {
    sh(cli('create', '--bundle', bundle.dir, `seq-${process.pid}-${i}`));
    sh(cli('start', `seq-${process.pid}-${i}`));
  }
  for (let i = 0; i < SEQUENTIAL; i++) sh(cli('delete', '-f', `seq-${process.pid}-${i}`));
  results.set(`${rt.name}:${SEQUENTIAL} × create+start, then delete`, { wall: Number(process.hrtime.bigint() - t0) / 1e6, rss: NaN });
}

const floor = results.get('floor:node -e 0');
const commands = [...new Set([...results.keys()].filter((k) => !k.startsWith('floor')).map((k) => k.split(':').slice(1).join(':')))];
const fmt = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '');
const header = ['command', ...runtimes.flatMap((r) => [`${r.name} ms`, `${r.name} MiB`]), 'ocirun − floor ms', 'ocirun ÷ runc', 'ocirun ÷ crun'];
const rows = [['node -e 0 (floor)', fmt(floor.wall), fmt(floor.rss / 1024, 1), ...Array(header.length - 3).fill('')]];
for (const command of commands) {
  const o = results.get(`ocirun:${command}`);
  const ratio = (name) => {
    const other = results.get(`${name}:${command}`);
    return other ? fmt(o.wall / other.wall, 2) : '';
  };
  rows.push([
    command,
    ...runtimes.flatMap((r) => {
      const v = results.get(`${r.name}:${command}`);
      return [fmt(v?.wall), fmt(v ? v.rss / 1024 : NaN, 1)];
    }),
    fmt(o.wall - floor.wall),
    ratio('runc'),
    ratio('crun'),
  ]);
}
const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(`ocirun benchmark, ${new Date().toISOString().slice(0, 10)}, medians of ${ROUNDS} rounds (peak RSS: max), ${os.cpus().length} cores`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));

bundle.cleanup();
sleeper.cleanup();
rmSync(scratch, { recursive: true, force: true });
