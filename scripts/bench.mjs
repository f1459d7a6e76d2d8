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
import { ocirunNodeFlags } from './node-flags.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 100);

if (process.getuid?.() !== 0) {
  console.error('bench: containers need root; run it with sudo');
  process.exit(1);
}

// ocirun's own Node boot, against the floor.
const OCIRUN_NODE_FLAGS = ocirunNodeFlags(repo);

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-bench-'));
// Node reads NODE_EXTRA_CA_CERTS at startup (node 20): on this kind of host it
// adds ~100 ms to every Node process, floor included. An engine does not set
// it for its runtime; the bench leaves it (and NODE_OPTIONS) out for all.
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
delete env.NODE_OPTIONS;

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
  const r = spawnSync('/usr/bin/time', ['-o', report, '-f', '%M', ...argv], { stdio: 'ignore', env });
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
const COMMANDS = ['create', 'start', 'exec /bin/true', 'state', 'list', 'kill', 'delete', 'run /bin/true'];
const samples = new Map(); // `${runtime}:${command}` -> [{wall, rss}]
const add = (key, sample) => samples.set(key, [...(samples.get(key) ?? []), sample]);
const cli = (rt, ...args) => [...rt.argv, '--root', path.join(scratch, rt.name), ...args];

// Rounds interleave the runtimes and the floor, so that load from elsewhere
// on the machine falls on all of them alike.
for (let i = 0; i < ROUNDS; i++) {
  add('floor:node -e 0', measure(['node', '-e', '0']));
  add("floor:node with ocirun's flags", measure(['node', ...OCIRUN_NODE_FLAGS, '-e', '0']));
  for (const rt of runtimes) {
    const id = `bench-${process.pid}-${i}`;
    add(`${rt.name}:create`, measure(cli(rt, 'create', '--bundle', sleeper.dir, id)));
    add(`${rt.name}:start`, measure(cli(rt, 'start', id)));
    add(`${rt.name}:exec /bin/true`, measure(cli(rt, 'exec', id, '/bin/true')));
    add(`${rt.name}:state`, measure(cli(rt, 'state', id)));
    add(`${rt.name}:list`, measure(cli(rt, 'list')));
    add(`${rt.name}:kill`, measure(cli(rt, 'kill', id, 'KILL')));
    spawnSync('sleep', ['0.05']);
    add(`${rt.name}:delete`, measure(cli(rt, 'delete', id)));
    add(`${rt.name}:run /bin/true`, measure(cli(rt, 'run', '--bundle', bundle.dir, `bench-run-${process.pid}-${i}`)));
  }
}

const results = new Map(); // key -> {wall: median ms, rss: peak KiB}
for (const [key, s] of samples) results.set(key, { wall: median(s.map((x) => x.wall)), rss: Math.max(...s.map((x) => x.rss)) });

const SEQ = `${SEQUENTIAL} × (create, start), then delete each (total)`;
for (const rt of runtimes) {
  const sh = (argv) => execFileSync(argv[0], argv.slice(1), { stdio: 'ignore', env });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < SEQUENTIAL; i++) {
    sh(cli(rt, 'create', '--bundle', bundle.dir, `seq-${process.pid}-${i}`));
    sh(cli(rt, 'start', `seq-${process.pid}-${i}`));
  }
  for (let i = 0; i < SEQUENTIAL; i++) sh(cli(rt, 'delete', '-f', `seq-${process.pid}-${i}`));
  results.set(`${rt.name}:${SEQ}`, { wall: Number(process.hrtime.bigint() - t0) / 1e6, rss: NaN });
}

const floor = results.get('floor:node -e 0');
const fmt = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits).replace(/^-(0(\.0+)?)$/, '$1') : '');
const mib = (kib) => kib / 1024;
const header = [
  'command',
  ...runtimes.flatMap((r) => [`${r.name} ms`, `${r.name} MiB`]),
  'ocirun − floor ms',
  'ocirun ÷ floor',
  'ocirun − floor MiB',
  ...runtimes.filter((r) => r.name !== 'ocirun').map((r) => `ocirun ÷ ${r.name}`),
];
// The floor row lines up under ocirun's columns.
const own = results.get("floor:node with ocirun's flags");
const rows = [
  ['node -e 0 (floor)', fmt(floor.wall), fmt(mib(floor.rss), 1), ...Array(header.length - 3).fill('')],
  // Not the floor: how far bin/ocirun's Node flags alone move it.
  [
    "node -e 0 with ocirun's flags",
    fmt(own.wall),
    fmt(mib(own.rss), 1),
    ...Array(runtimes.length * 2 - 2).fill(''),
    fmt(own.wall - floor.wall),
    fmt(own.wall / floor.wall, 2),
    fmt(mib(own.rss - floor.rss), 1),
    ...Array(runtimes.length - 1).fill(''),
  ],
];
for (const command of [...COMMANDS, SEQ]) {
  const o = results.get(`ocirun:${command}`);
  const perCommand = command !== SEQ;
  rows.push([
    command,
    ...runtimes.flatMap((r) => {
      const v = results.get(`${r.name}:${command}`);
      return [fmt(v?.wall), fmt(v ? mib(v.rss) : NaN, 1)];
    }),
    perCommand ? fmt(o.wall - floor.wall) : '',
    perCommand ? fmt(o.wall / floor.wall, 2) : '',
    perCommand ? fmt(mib(o.rss - floor.rss), 1) : '',
    ...runtimes.filter((r) => r.name !== 'ocirun').map((r) => fmt(o.wall / results.get(`${r.name}:${command}`).wall, 2)),
  ]);
}
const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(
  `ocirun benchmark, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${os.cpus().length} cores: ` +
    `medians of ${ROUNDS} interleaved rounds (ms), peak RSS (MiB, max over the rounds)`,
);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));

bundle.cleanup();
sleeper.cleanup();
rmSync(scratch, { recursive: true, force: true });
