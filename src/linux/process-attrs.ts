// Process attributes that survive execve(2): the execution domain
// (linux.personality, personality(2)), the I/O priority (process.ioPriority,
// ioprio_set(2)) and the scheduling policy (process.scheduler,
// sched_setattr(2)). Checked in the runtime at create time; applied by the
// init while it still has every capability (realtime classes need
// CAP_SYS_NICE or CAP_SYS_ADMIN).
import type { ConfigProblem } from '../spec/validate.js';
import type { Process, Spec } from '../spec/types.js';
import { ioprioSet, personality, schedSetattr } from '../sys/libc.js';
import { errnoOf, wrap } from '../errors.js';

export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

/** personality(2) domains (linux/personality.h). */
const DOMAINS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

/** IOPRIO_CLASS_* (linux/ioprio.h); the class sits above 13 bits of level. */
const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const IOPRIO_CLASS_SHIFT = 13;
const IOPRIO_WHO_PROCESS = 1;

/** SCHED_* policies (linux/sched.h). SCHED_ISO is reserved and never implemented. */
const POLICIES: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
/** sizeof(struct sched_attr), SCHED_ATTR_SIZE_VER1. */
const SCHED_ATTR_SIZE = 56;
/** The kernel refuses a deadline runtime below 2^DL_SCALE nanoseconds. */
const MIN_DEADLINE_RUNTIME = 1024;

/** What the schema cannot say about these fields; the pointers are under `base` ("/process" for create). */
export function checkProcessAttributes(processSpec: Process | undefined, base = '/process'): ConfigProblem[] {
  const scheduler = processSpec?.scheduler as Scheduler | undefined;
  return scheduler ? checkScheduler(scheduler, `${base}/scheduler`) : [];
}

function checkScheduler(s: Scheduler, at: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ pointer: `${at}/${field}`, message });
  if (s.policy === 'SCHED_ISO') problem('policy', 'SCHED_ISO is not implemented by Linux');
  if (s.nice !== undefined && (s.nice < -20 || s.nice > 19)) problem('nice', 'must be between -20 and 19');
  const realtime = s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR';
  const priority = s.priority ?? 0;
  if (realtime && (priority < 1 || priority > 99)) {
    problem('priority', `must be between 1 and 99 for ${s.policy}`);
  } else if (!realtime && priority !== 0) {
    problem('priority', `must be 0 (or unset) for ${s.policy}: only SCHED_FIFO and SCHED_RR have a static priority`);
  }
  const deadline = s.policy === 'SCHED_DEADLINE';
  for (const field of ['runtime', 'deadline', 'period'] as const) {
    const value = s[field];
    if (value === undefined) continue;
    if (!deadline && value !== 0) problem(field, `can only be set with SCHED_DEADLINE, not ${s.policy}`);
    else if (!Number.isSafeInteger(value)) problem(field, 'must be at most 2^53 - 1 nanoseconds');
  }
  if (deadline) {
    const runtime = s.runtime ?? 0;
    const dl = s.deadline ?? 0;
    const period = s.period ?? 0;
    if (runtime < MIN_DEADLINE_RUNTIME) problem('runtime', `must be at least ${MIN_DEADLINE_RUNTIME} (nanoseconds) for SCHED_DEADLINE`);
    else if (dl < runtime) problem('deadline', `must be at least runtime (${runtime}) for SCHED_DEADLINE`);
    else if (period !== 0 && period < dl) problem('period', `must be 0 or at least deadline (${dl}) for SCHED_DEADLINE`);
  }
  return problems;
}

/** struct sched_attr (sched_setattr(2)) for a checked scheduler. */
export function schedAttr(s: Scheduler): Buffer {
  const attr = Buffer.alloc(SCHED_ATTR_SIZE);
  const flags = (s.flags ?? []).reduce((acc, name) => acc | (SCHED_FLAGS[name] ?? 0), 0);
  attr.writeUInt32LE(SCHED_ATTR_SIZE, 0);
  attr.writeUInt32LE(POLICIES[s.policy], 4);
  attr.writeBigUInt64LE(BigInt(flags), 8);
  attr.writeInt32LE(s.nice ?? 0, 16);
  attr.writeUInt32LE(s.priority ?? 0, 20);
  attr.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  attr.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  attr.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return attr;
}

/** In the init, before the capabilities are dropped. */
export function applyProcessAttributes(config: Spec, processSpec: Process): void {
  const domain = config.linux?.personality?.domain;
  if (domain !== undefined) {
    attempt('linux.personality', () => personality(DOMAINS[domain]));
  }
  const io = processSpec.ioPriority;
  if (io) {
    const ioprio = (IOPRIO_CLASSES[io.class] << IOPRIO_CLASS_SHIFT) | (io.priority ?? 0);
    attempt('process.ioPriority', () => ioprioSet(IOPRIO_WHO_PROCESS, 0, ioprio));
  }
  const scheduler = processSpec.scheduler as Scheduler | undefined;
  if (scheduler) {
    attempt(
      'process.scheduler',
      () => schedSetattr(0, schedAttr(scheduler)),
      (code) => (code === 'EPERM' ? ' (realtime and deadline policies need CAP_SYS_NICE, and an RT budget in the cgroup when RT group scheduling is on)' : ''),
    );
  }
}

function attempt(field: string, action: () => unknown, hint: (code: string) => string = () => ''): void {
  try {
    action();
  } catch (err) {
    throw wrap(err, field, { hint: hint(errnoOf(err) ?? '') });
  }
}
