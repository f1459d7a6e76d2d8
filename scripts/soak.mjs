// Soak test: many create/start/delete cycles (and every 50th, a foreground run), then creates made to fail at
// each stage, and ocirun killed (SIGKILL) at random moments of create, start,
// run and delete. Afterwards nothing of it may be left: no state directory,
// no cgroup directory, no mount, no process, and no fd
// of the runtime leaked into a container. Prints the numbers.
//
//   node scripts/soak.mjs [--cycles 1000] [--failures 20] [--json]
//
// --failures is per failure stage. Exit status 0 only when no leak was found.
// Everything checked is scoped to this run's own root, bundle and ids: other
// runtimes may be at work on the same host.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OCIRUN_BIN, makeBundle } from '../fixtures/bundle.mjs';

const { values: flags } = parseArgs({
  options: {
    cycles: { type: 'string', default: '1000' },
    failures: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const CYCLES = Number(flags.cycles);
const PER_STAGE = Number(flags.failures);

const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-soak-'));
const root = path.join(scratch, 'root');
const outFile = path.join(scratch, 'stdout');
const errFile = path.join(scratch, 'stderr');
const prefix = `soak-${process.pid}`;
const CGROUP_ROOT = '/sys/fs/cgroup';
let seq = 0;
const newId = (kind) => `${prefix}-${kind}-${++seq}`;

const leaks = [];
const leak = (what) => {
  leaks.push(what);
  if (!flags.json) console.error(`LEAK: ${what}`);
};
/** pid and start time of every container process seen, checked dead at the end. */
const seenProcesses = new Map();

// ---- driving ocirun ----

/** Output through files, never pipes: a detached container inherits ocirun's stdio and would hold a pipe open. */
function ocirun(args, { timeoutMs = 30_000 } = {}) {
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  try {
    const r = spawnSync(OCIRUN_BIN, ['--root', root, ...args], { stdio: ['ignore', out, err], timeout: timeoutMs });
    return { code: r.status ?? -1, signal: r.signal, stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

function must(args) {
  const r = ocirun(args);
  if (r.code !== 0) throw new Error(`ocirun ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

/** Starts ocirun and SIGKILLs it after `delayMs` (if still running); resolves when it is gone. */
function killedAfter(args, delayMs) {
  return new Promise((resolve) => {
    const child = spawn(OCIRUN_BIN, ['--root', root, ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

// ---- what is on the host ----

function procStartTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? null : Number(fields[19]);
  } catch {
    return null;
  }
}

function remember(pid) {
  const start = procStartTime(pid);
  if (start !== null) seenProcesses.set(pid, start);
}

/**
 * Live processes with `word` as a whole argument (default: this run's root):
 * ocirun itself and the inits it forked, which carry its command line.
 */
function runtimeProcesses(word = root) {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(word) && procStartTime(Number(p)) !== null;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Cgroup directories at the top of each hierarchy named `name`, or starting with it when `prefixOnly`. */
function cgroupDirs(name, prefixOnly = false) {
  const found = [];
  for (const h of readdirSync(CGROUP_ROOT)) {
    try {
      for (const entry of readdirSync(path.join(CGROUP_ROOT, h))) {
        if (prefixOnly ? entry.startsWith(name) : entry === name) found.push(path.join(CGROUP_ROOT, h, entry));
      }
    } catch {
      // not a directory (or not readable): no hierarchy there
    }
  }
  return found;
}

const mountsMentioning = (text) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(text));

function fdTargets(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return [fd, readlinkSync(`/proc/${pid}/fd/${fd}`)];
      } catch {
        return [fd, '?'];
      }
    });
  } catch {
    return null;
  }
}

/** Everything of one container id must be gone. */
function checkGone(id, when) {
  if (existsSync(path.join(root, id))) leak(`${when}: state directory ${path.join(root, id)} left`);
  for (const dir of cgroupDirs(id)) leak(`${when}: cgroup ${dir} left`);
  for (const pid of runtimeProcesses(id)) leak(`${when}: process ${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}) left`);
}

// ---- bundles ----

function bundleFor(args) {
  return makeBundle({ dir: path.join(scratch, `bundle-${++seq}`), args });
}
/** The cgroup of each container at /<id> in every hierarchy: easy to look for. */
const withCgroupOfId = (config, id) => {
  config.linux.cgroupsPath = `/${id}`;
  return config;
};
const pristine = new Map();
function writeConfig(bundle, id, change) {
  if (!pristine.has(bundle)) pristine.set(bundle, structuredClone(bundle.config));
  const config = structuredClone(pristine.get(bundle));
  withCgroupOfId(config, id);
  change?.(config);
  bundle.write(config);
}

// ---- the cycles ----

const trace = process.env.SOAK_TRACE ? (what) => console.error(`${new Date().toISOString()} ${what}`) : () => {};

function waitUntil(predicate, what) {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}

function cycle(bundles, n) {
  const id = newId('cycle');
  const { sleeper, trueBundle } = bundles;
  const useTrue = n % 2 === 1;
  const bundle = useTrue ? trueBundle : sleeper;
  writeConfig(bundle, id);
  trace(`cycle ${id}`);
  const pidFile = path.join(scratch, 'pid');
  must(['create', '--bundle', bundle.dir, '--pid-file', pidFile, id]);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  remember(pid);
  if (n % 10 === 0) {
    const created = JSON.parse(must(['state', id]).stdout);
    if (created.status !== 'created' || created.pid !== pid) leak(`${id}: state after create is ${created.status}, pid ${created.pid}`);
  }
  // The init waiting for start holds no file of the state directory but its two FIFOs, and nothing of the bundle.
  for (const [fd, target] of fdTargets(pid) ?? []) {
    if ((target.startsWith(root) && !/\/(exec|status)\.fifo$/.test(target)) || target.startsWith(bundle.dir)) {
      leak(`${id}: the waiting init holds fd ${fd} -> ${target}`);
    }
  }
  must(['start', id]);
  if (useTrue) {
    waitUntil(() => procStartTime(pid) === null, `${id}: true to exit`);
    must(['delete', id]);
  } else {
    // The container's process has exactly stdio, nothing of the runtime.
    waitUntil(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\0'), `${id}: the init to exec sleep`);
    const fds = (fdTargets(pid) ?? []).map(([fd]) => fd);
    if (fds.join(',') !== '0,1,2') leak(`${id}: the container process has fds ${fds.join(',')}`);
    must(['delete', '--force', id]);
  }
  checkGone(id, 'cycle');
}

/** A foreground run: once its container runs, the waiting ocirun holds no fd into the state directory or the bundle. */
async function foregroundRun(bundle) {
  const id = newId('run');
  const marker = `0.5${seq}`; // a sleep whose command line is this run's own
  writeConfig(bundle, id, (c) => (c.process.args = ['sleep', marker]));
  const child = spawn(OCIRUN_BIN, ['--root', root, 'run', '--bundle', bundle.dir, id], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () =>
    readdirSync('/proc').some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${marker}\0`;
      } catch {
        return false;
      }
    });
  waitUntil(running, `${id} to run`);
  // run lets go of the container's lock just after its process starts: a held fd must still be there a moment later.
  const suspicious = () =>
    (fdTargets(child.pid) ?? []).filter(([, target]) => target.startsWith(root) || target.startsWith(bundle.dir)).map(([fd, t]) => `${fd} -> ${t}`);
  if (suspicious().length > 0) {
    await new Promise((r) => setTimeout(r, 150));
    for (const fd of suspicious()) leak(`${id}: ocirun run holds fd ${fd}`);
  }
  const code = await exited;
  if (code !== 0) leak(`${id}: run exited ${code}`);
  checkGone(id, 'foreground run');
}

// ---- failures ----

/** Creates that must fail with one clear error and leave nothing, without any delete. */
const FAILING = {
  'bad mount': (c, id) => c.mounts.push({ destination: '/data', type: 'bind', source: `/nonexistent/${id}`, options: ['rbind'] }),
  'missing binary': (c) => (c.process.args = ['/bin/no-such-binary']),
  'bad cgroup value': (c) => (c.linux.resources = { ...c.linux.resources, cpu: { cpus: '0-4095' } }),
  'failing hook': (c) => (c.hooks = { createRuntime: [{ path: '/bin/false' }] }),
};

function failingCreate(stage, bundle) {
  const id = newId('fail');
  trace(`${stage} ${id}`);
  writeConfig(bundle, id, (c) => FAILING[stage](c, id));
  const r = ocirun(['create', '--bundle', bundle.dir, id]);
  if (r.code === 0) leak(`${stage}: create of ${id} succeeded`);
  else if (!r.stderr.startsWith('ocirun: ') || /\n\s+at /.test(r.stderr)) leak(`${stage}: unclear error: ${r.stderr}`);
  checkGone(id, stage);
  if (existsSync(path.join(root, id))) ocirun(['delete', '--force', id]);
}

/** ocirun killed with SIGKILL at a random moment: delete --force must leave nothing. */
async function killedStep(step, bundle, budgetMs) {
  const id = newId(`kill-${step}`);
  writeConfig(bundle, id);
  const delay = Math.floor(Math.random() * budgetMs);
  trace(`killed ${step} ${id} after ${delay} ms`);
  if (step === 'create') await killedAfter(['create', '--bundle', bundle.dir, id], delay);
  else if (step === 'run') await killedAfter(['run', '--bundle', bundle.dir, id], delay);
  else {
    must(['create', '--bundle', bundle.dir, id]);
    remember(JSON.parse(must(['state', id]).stdout).pid);
    if (step === 'start') await killedAfter(['start', id], delay);
    else {
      must(['start', id]);
      if (step === 'exec') await killedAfter(['exec', id, 'sleep', '1000'], delay);
      else await killedAfter(['delete', '--force', id], delay);
    }
  }
  // What a killed run or create left: its init, maybe not yet recorded in a state.
  for (const pid of runtimeProcesses(id)) remember(pid);
  const r = ocirun(['delete', '--force', id]);
  if (r.code !== 0) leak(`killed ${step} after ${delay} ms: delete --force exited ${r.code}: ${r.stderr}`);
  const before = leaks.length;
  checkGone(id, `killed ${step} after ${delay} ms`);
  return r.code === 0 && leaks.length === before;
}

/** How long a create of this bundle takes here: the killed steps pick their moment within it. */
function timeOf(args) {
  const t = Date.now();
  must(args);
  return Date.now() - t;
}

// ---- main ----

async function main() {
  const started = Date.now();
  const mountsBefore = mountsMentioning(scratch);
  const sleeper = bundleFor(['sleep', '1000']);
  const trueBundle = bundleFor(['true']);
  const bundles = { sleeper, trueBundle };
  const counts = { cycles: 0, foregroundRuns: 0, failures: {}, recoveredByDeleteForce: 0 };

  for (let n = 0; n < CYCLES; n++) {
    cycle(bundles, n);
    counts.cycles++;
    if (n % 50 === 0) {
      await foregroundRun(sleeper);
      counts.foregroundRuns++;
    }
    if (!flags.json && n % 100 === 99) console.error(`${n + 1} cycles, ${leaks.length} leaks, ${Math.round((Date.now() - started) / 1000)} s`);
  }

  for (const stage of Object.keys(FAILING)) {
    for (let i = 0; i < PER_STAGE; i++) failingCreate(stage, sleeper);
    counts.failures[stage] = PER_STAGE;
  }

  const probe = newId('probe');
  writeConfig(sleeper, probe);
  const createMs = timeOf(['create', '--bundle', sleeper.dir, probe]);
  must(['delete', '--force', probe]);
  for (const step of ['create', 'start', 'run', 'exec', 'delete']) {
    for (let i = 0; i < PER_STAGE; i++) {
      const budget = step === 'start' || step === 'delete' ? 150 : createMs * 1.3;
      if (await killedStep(step, sleeper, budget)) counts.recoveredByDeleteForce++;
    }
    counts.failures[`SIGKILL of ${step}`] = PER_STAGE;
  }

  // The whole run: nothing of it anywhere.
  const ids = existsSync(root) ? readdirSync(root) : [];
  if (ids.length > 0) leak(`state directories left: ${ids.join(' ')}`);
  for (const dir of cgroupDirs(prefix, true)) leak(`cgroup left: ${dir}`);
  const mountsAfter = mountsMentioning(scratch);
  if (mountsAfter.join('\n') !== mountsBefore.join('\n')) leak(`mounts changed: ${mountsAfter.filter((l) => !mountsBefore.includes(l)).join('; ')}`);
  for (const pid of runtimeProcesses()) leak(`runtime process ${pid} left`);
  for (const [pid, start] of seenProcesses) if (procStartTime(pid) === start) leak(`container process ${pid} still alive`);

  for (const b of [sleeper, trueBundle]) b.cleanup();
  rmSync(scratch, { recursive: true, force: true });

  const failuresInjected = Object.values(counts.failures).reduce((a, b) => a + b, 0);
  const summary = {
    cycles: counts.cycles,
    foregroundRuns: counts.foregroundRuns,
    failuresInjected,
    failuresByStage: counts.failures,
    recoveredByDeleteForce: counts.recoveredByDeleteForce,
    containerProcessesTracked: seenProcesses.size,
    leaks,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  if (flags.json) console.log(JSON.stringify(summary));
  else {
    console.log(`cycles: ${summary.cycles} create/start/delete (+${summary.foregroundRuns} foreground runs)`);
    console.log(`failures injected: ${failuresInjected}`);
    for (const [stage, n] of Object.entries(counts.failures)) console.log(`  ${stage}: ${n}`);
    console.log(`half-created containers recovered by delete --force: ${summary.recoveredByDeleteForce}`);
    console.log(`leaks found: ${leaks.length}`);
    console.log(`time: ${summary.seconds} s`);
  }
  return leaks.length === 0 ? 0 : 1;
}

process.exitCode = await main();
