// process.execCPUAffinity (config.md "Linux Process"): the CPUs an exec'd
// process runs on, `initial` while it is set up and before it joins the
// container's cgroups, `final` once in them, right before execve. Joining a
// cpuset cgroup resets a task's affinity to the cgroup's CPUs (cpuset(7)), so
// without `final` the kernel's choice stands. Not for the container's init
// (config.md: "not applicable to the container's init process").
import type { ConfigProblem } from '../spec/validate.js';
import type { Process } from '../spec/types.js';
import { SysError, koffi, libc } from '../sys/libc.js';
import { bitmask, parseList, readSysList } from './cpu-list.js';

/** cpu_set_t of 1024 CPUs, glibc's CPU_SETSIZE. */
const CPUSET_WORDS = 16;

interface Calls {
  set(pid: number, size: number, mask: Buffer): number;
  get(pid: number, size: number, mask: Buffer): number;
}
let calls: Calls | undefined;
function c(): Calls {
  calls ??= {
    set: libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)'),
    get: libc.func('int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)'),
  } as Calls;
  return calls;
}

/** Lists that do not parse, or name CPUs this host does not have online. */
export function checkCpuAffinity(processSpec: Process | undefined, base = '/process'): ConfigProblem[] {
  const affinity = processSpec?.execCPUAffinity;
  if (!affinity) return [];
  const online = readSysList('/sys/devices/system/cpu/online');
  const problems: ConfigProblem[] = [];
  for (const key of ['initial', 'final'] as const) {
    const text = affinity[key];
    if (!text) continue;
    const pointer = `${base}/execCPUAffinity/${key}`;
    try {
      const cpus = parseList(text);
      const missing = online ? cpus.filter((n) => !online.includes(n)) : [];
      if (missing.length > 0) problems.push({ pointer, message: `CPU ${missing.join(', ')} is not online on this host (online: ${online!.join(',')})` });
    } catch (err) {
      problems.push({ pointer, message: (err as Error).message });
    }
  }
  return problems;
}

function setAffinity(cpus: number[], what: string): void {
  if (Number(c().set(0, CPUSET_WORDS * 8, bitmask(cpus, CPUSET_WORDS))) < 0) {
    throw new Error(`${what}: ${new SysError('sched_setaffinity', koffi.errno()).message}`);
  }
}

/**
 * In the runtime, around the clone of an exec'd process: this thread runs on
 * the `initial` CPUs while it clones, so the child (pid 0 here) starts there;
 * the parent then goes back to its own. Affinity is per thread
 * (sched_setaffinity(2)) and a child inherits its parent thread's.
 */
export function cloneWithInitialAffinity(mode: 'create' | 'exec', processSpec: Process | undefined, clone: () => number): number {
  const initial = processSpec?.execCPUAffinity?.initial;
  if (mode !== 'exec' || !initial) return clone();
  const own = Buffer.alloc(CPUSET_WORDS * 8);
  if (Number(c().get(0, own.length, own)) < 0) throw new SysError('sched_getaffinity', koffi.errno());
  setAffinity(parseList(initial), `process.execCPUAffinity.initial ${initial}`);
  let pid = -1;
  try {
    pid = clone();
  } finally {
    if (pid !== 0) c().set(0, own.length, own);
  }
  return pid;
}

/** In the exec'd process, once in the container's cgroups and before seccomp: the `final` CPUs. */
export function applyFinalAffinity(mode: 'create' | 'exec', processSpec: Process): void {
  const final = processSpec.execCPUAffinity?.final;
  if (mode === 'exec' && final) setAffinity(parseList(final), `process.execCPUAffinity.final ${final}`);
}
