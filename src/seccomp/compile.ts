// linux.seccomp compiled into a BPF program in the runtime process, at
// create time, before the init is cloned: every problem with the profile is
// an error naming its field while nothing exists yet. libseccomp builds the
// filter and exports its program; the ENOSYS stub goes in front of it where
// the profile needs one (enosys.ts); the init inherits the program through
// fork and only loads it with seccomp(2) (load.ts).
//
// Like runc: a system call name this libseccomp does not know is skipped
// (logged at debug level), a rule whose action is the default action is
// skipped, and a rule comparing one argument more than once becomes one rule
// per comparison (libseccomp refuses two comparisons of the same argument in
// one rule).
import { fstatSync, readSync } from 'node:fs';
import { debug } from '../log.js';
import { OciError, wrap } from '../errors.js';
import { close, memfdWith } from '../sys/libc.js';
import { ACT, ATTR, CMP, NR_SCMP_ERROR, describeRc, libseccomp, type ArgCompare, type FilterContext } from './libseccomp.js';
import { exactIntegerAt } from './exact-values.js';
import { MAX_INSTRUCTIONS, enosysStub, needsEnosysStub, newestNamedCalls } from './enosys.js';
import type { LinuxSeccomp, SeccompArg } from './profile.js';

export type { LinuxSeccomp, SeccompArg, SeccompSyscall } from './profile.js';

export interface CompiledSeccomp {
  /** struct sock_filter[] for seccomp(2): libseccomp's program, behind the ENOSYS stub where needed. */
  program: Buffer;
  /** SECCOMP_FILTER_FLAG_* for seccomp(2). */
  filterFlags: number;
  /** Some rule uses SCMP_ACT_NOTIFY: loading yields a notify fd for listenerPath. */
  notify: boolean;
  /** close_range(2) passes the filter whatever its arguments (see allowsEveryCall). */
  allowsCloseRange: boolean;
  listenerPath?: string;
  listenerMetadata?: string;
  /** Names skipped because libseccomp does not know them. */
  ignoredNames: string[];
}

export interface CompileOptions {
  /**
   * config.json parsed with exact integers (parseWithExactIntegers), for
   * argument values above 2^53 that JSON.parse rounded. Called only when
   * such a value occurs.
   */
  exactConfig?: () => unknown;
}

const BASE = '/linux/seccomp';
const EPERM = 1;
const MAX_RET_DATA = 0xffff;
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * System calls the init makes after loading a filter that notifies, to hand
 * the notify fd to the runtime: a notified one would wait for a listener
 * that has not got the fd yet.
 */
export const NOTIFY_FORBIDDEN = new Set(['write', 'sendmsg']);

class Problems {
  readonly lines: string[] = [];
  add(pointer: string, message: string): void {
    this.lines.push(`config.json: ${pointer}: ${message}`);
  }
}

export function compileSeccomp(seccomp: LinuxSeccomp, opts: CompileOptions = {}): CompiledSeccomp {
  let lib: ReturnType<typeof libseccomp>;
  try {
    lib = libseccomp();
  } catch (err) {
    throw wrap(err, 'linux.seccomp', { code: 'unsupported' });
  }
  const problems = new Problems();
  const defaultAction = actionValue(seccomp.defaultAction, seccomp.defaultErrnoRet, `${BASE}/defaultAction`, `${BASE}/defaultErrnoRet`, problems);
  checkNotify(seccomp, lib.apiLevel, lib.version, problems);
  if (defaultAction === undefined || problems.lines.length > 0) throw fail(problems);

  const ctx = lib.init(defaultAction);
  if (ctx === null) {
    throw new OciError('unsupported', `config.json: ${BASE}/defaultAction: libseccomp ${lib.version} cannot make a filter with ${seccomp.defaultAction}`);
  }
  try {
    const archTokens = [lib.archNative(), ...addArchitectures(ctx, seccomp.architectures ?? [], lib, problems)];
    setFlags(ctx, seccomp.flags ?? [], lib, problems);
    // A binary tree of the rules for long profiles (runc does the same above 32 entries).
    if ((seccomp.syscalls ?? []).length > 32 && lib.attrSet(ctx, ATTR.CTL_OPTIMIZE, 2) < 0) {
      debug('seccomp: libseccomp cannot build a binary tree filter; using a linear one');
    }
    const ignoredNames = addRules(ctx, seccomp, defaultAction, opts, lib, problems);
    if (problems.lines.length > 0) throw fail(problems);
    const stub = needsEnosysStub(seccomp) ? enosysStub(newestNamedCalls(seccomp, archTokens, lib)) : Buffer.alloc(0);
    const program = Buffer.concat([stub, exportProgram(ctx, lib)]);
    if (program.length / 8 > MAX_INSTRUCTIONS) {
      problems.add(BASE, `the filter is ${program.length / 8} BPF instructions long; the kernel takes at most ${MAX_INSTRUCTIONS}`);
      throw fail(problems);
    }
    const notify = usesNotify(seccomp);
    return {
      program,
      filterFlags: filterFlags(seccomp.flags ?? [], notify),
      notify,
      allowsCloseRange: allowsEveryCall(seccomp, 'close_range'),
      listenerPath: seccomp.listenerPath,
      listenerMetadata: seccomp.listenerMetadata,
      ignoredNames,
    };
  } finally {
    lib.release(ctx);
  }
}

/** The filter's BPF program, as libseccomp exports it (through a memfd: it may outgrow a pipe's buffer). */
function exportProgram(ctx: FilterContext, lib: ReturnType<typeof libseccomp>): Buffer {
  const fd = memfdWith('ocirun-seccomp', Buffer.alloc(0));
  try {
    const rc = lib.exportBpf(ctx, fd);
    if (rc < 0) throw new OciError('system', `linux.seccomp: exporting the filter from libseccomp: ${describeRc(rc)}`);
    const program = Buffer.alloc(fstatSync(fd).size);
    if (readSync(fd, program, 0, program.length, 0) !== program.length) {
      throw new OciError('system', 'linux.seccomp: short read of the filter libseccomp exported');
    }
    return program;
  } finally {
    close(fd);
  }
}

/**
 * Whether every call to `name` passes the filter: each rule naming it allows
 * it and one does so unconditionally, or no rule names it and the default
 * action allows it. Conservative: arguments are not evaluated.
 */
function allowsEveryCall(seccomp: LinuxSeccomp, name: string): boolean {
  const allows = (action: string) => action === 'SCMP_ACT_ALLOW' || action === 'SCMP_ACT_LOG';
  const rules = (seccomp.syscalls ?? []).filter((rule) => rule.names.includes(name));
  if (rules.length === 0) return allows(seccomp.defaultAction);
  return rules.every((rule) => allows(rule.action)) && rules.some((rule) => (rule.args ?? []).length === 0);
}

function fail(problems: Problems): OciError {
  return new OciError('invalid-config', problems.lines[0], problems.lines.slice(1));
}

function check(rc: number, pointer: string, what: string, problems: Problems): boolean {
  if (rc >= 0) return true;
  problems.add(pointer, `${what}: ${describeRc(rc)}`);
  return false;
}

function usesNotify(seccomp: LinuxSeccomp): boolean {
  return (seccomp.syscalls ?? []).some((rule) => rule.action === 'SCMP_ACT_NOTIFY');
}

function checkNotify(seccomp: LinuxSeccomp, apiLevel: number, version: string, problems: Problems): void {
  if (seccomp.defaultAction === 'SCMP_ACT_NOTIFY') {
    problems.add(
      `${BASE}/defaultAction`,
      'SCMP_ACT_NOTIFY cannot be the default action: the runtime makes system calls after loading the filter, to hand the notify fd over',
    );
  }
  if (!usesNotify(seccomp)) return;
  if (!seccomp.listenerPath) {
    problems.add(`${BASE}/listenerPath`, 'is required when a rule uses SCMP_ACT_NOTIFY (the notify fd is sent there)');
  }
  if (apiLevel < 6) {
    problems.add(`${BASE}/syscalls`, `SCMP_ACT_NOTIFY needs libseccomp >= 2.5 and Linux >= 5.7 (libseccomp ${version} reports API level ${apiLevel}, not 6)`);
  }
  (seccomp.syscalls ?? []).forEach((rule, i) => {
    if (rule.action !== 'SCMP_ACT_NOTIFY') return;
    rule.names.forEach((name, j) => {
      if (NOTIFY_FORBIDDEN.has(name)) {
        problems.add(`${BASE}/syscalls/${i}/names/${j}`, `SCMP_ACT_NOTIFY cannot be used for ${name}: the runtime needs it to pass the notify fd on`);
      }
    });
  });
}

function actionValue(action: string, errnoRet: number | undefined, actionPointer: string, errnoPointer: string, problems: Problems): number | undefined {
  if (action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE') {
    const ret = errnoRet ?? EPERM;
    if (ret > MAX_RET_DATA) {
      problems.add(errnoPointer, `must be at most ${MAX_RET_DATA} (seccomp returns 16 bits of data)`);
      return undefined;
    }
    return (ACT[action] | ret) >>> 0;
  }
  if (!Object.hasOwn(ACT, action)) {
    problems.add(actionPointer, `unknown action ${JSON.stringify(action)} (must be one of ${Object.keys(ACT).join(', ')})`);
    return undefined;
  }
  if (errnoRet !== undefined) {
    problems.add(errnoPointer, `can only be used with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}`);
    return undefined;
  }
  return ACT[action as keyof typeof ACT] >>> 0;
}

/** Adds the profile's architectures to the filter; returns their libseccomp tokens. */
function addArchitectures(ctx: FilterContext, architectures: string[], lib: ReturnType<typeof libseccomp>, problems: Problems): number[] {
  const tokens: number[] = [];
  architectures.forEach((arch, i) => {
    const pointer = `${BASE}/architectures/${i}`;
    // SCMP_ARCH_X86_64 is "x86_64" to seccomp_arch_resolve_name(3).
    const token = /^SCMP_ARCH_[A-Z0-9_]+$/.test(arch) ? lib.archResolveName(arch.slice('SCMP_ARCH_'.length).toLowerCase()) : 0;
    if (token === 0) {
      problems.add(pointer, `${arch} is not an architecture libseccomp ${lib.version} knows`);
      return;
    }
    const rc = lib.archAdd(ctx, token);
    if (rc !== -17 /* EEXIST: the native one, always there */) check(rc, pointer, `adding ${arch}`, problems);
    tokens.push(token);
  });
  return tokens;
}

/**
 * The flags of linux.seccomp.flags: the libseccomp attribute that tells
 * whether this libseccomp and kernel support one, and its seccomp(2) bit.
 */
const FLAGS: Record<string, { attr: number; bit: number }> = {
  SECCOMP_FILTER_FLAG_TSYNC: { attr: ATTR.CTL_TSYNC, bit: 1 },
  SECCOMP_FILTER_FLAG_LOG: { attr: ATTR.CTL_LOG, bit: 2 },
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: { attr: ATTR.CTL_SSB, bit: 4 },
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: { attr: ATTR.CTL_WAITKILL, bit: 32 },
};
const FLAG_NEW_LISTENER = 8;
const FLAG_TSYNC_ESRCH = 16;

/** The seccomp(2) flags of linux.seccomp.flags ocirun knows. */
export const FLAG_NAMES = Object.keys(FLAGS);

/** The libseccomp filter attribute a flag is set through. */
export function flagAttr(flag: string): number {
  return FLAGS[flag].attr;
}

/**
 * seccomp(2)'s flags (seccomp(2) "SECCOMP_SET_MODE_FILTER"): the kernel
 * refuses TSYNC with NEW_LISTENER unless TSYNC_ESRCH comes too, and
 * WAIT_KILLABLE_RECV without a listener, for which alone it means something.
 */
function filterFlags(flags: string[], notify: boolean): number {
  let bits = flags.reduce((sum, flag) => sum | FLAGS[flag].bit, 0);
  if (!notify) return bits & ~FLAGS.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.bit;
  bits |= FLAG_NEW_LISTENER;
  if (bits & FLAGS.SECCOMP_FILTER_FLAG_TSYNC.bit) bits |= FLAG_TSYNC_ESRCH;
  return bits;
}

function setFlags(ctx: FilterContext, flags: string[], lib: ReturnType<typeof libseccomp>, problems: Problems): void {
  flags.forEach((flag, i) => {
    const pointer = `${BASE}/flags/${i}`;
    if (!Object.hasOwn(FLAGS, flag)) {
      problems.add(pointer, `unknown flag ${JSON.stringify(flag)} (must be one of ${FLAG_NAMES.join(', ')})`);
      return;
    }
    const rc = lib.attrSet(ctx, FLAGS[flag].attr, 1);
    if (rc < 0) problems.add(pointer, `${flag} is not supported by libseccomp ${lib.version} on this kernel: ${describeRc(rc)}`);
  });
}

function addRules(
  ctx: FilterContext,
  seccomp: LinuxSeccomp,
  defaultAction: number,
  opts: CompileOptions,
  lib: ReturnType<typeof libseccomp>,
  problems: Problems,
): string[] {
  const ignored: string[] = [];
  (seccomp.syscalls ?? []).forEach((rule, i) => {
    const at = `${BASE}/syscalls/${i}`;
    const action = actionValue(rule.action, rule.errnoRet, `${at}/action`, `${at}/errnoRet`, problems);
    const conditions = (rule.args ?? []).map((arg, j) => condition(arg, `${at}/args/${j}`, opts, problems));
    if (action === undefined || conditions.some((c) => c === undefined)) return;
    if (action === defaultAction) {
      debug(`seccomp: ${at} (${rule.names.join(', ')}) has the default action: skipped`);
      return;
    }
    const indexes = conditions.map((c) => c!.arg);
    // Several comparisons of one argument: one rule each (runc's behaviour).
    const groups = new Set(indexes).size < indexes.length ? conditions.map((c) => [c!]) : [conditions as ArgCompare[]];
    rule.names.forEach((name, j) => {
      const nr = lib.syscallResolveName(name);
      if (nr === NR_SCMP_ERROR) {
        debug(`seccomp: unknown system call ${JSON.stringify(name)} at ${at}/names/${j}: ignored`);
        ignored.push(name);
        return;
      }
      for (const group of groups) {
        if (!check(lib.ruleAdd(ctx, action, nr, group), `${at}/names/${j}`, `adding the rule for ${name}`, problems)) return;
      }
    });
  });
  return ignored;
}

function condition(arg: SeccompArg, at: string, opts: CompileOptions, problems: Problems): ArgCompare | undefined {
  const op = CMP[arg.op as keyof typeof CMP];
  if (op === undefined) {
    problems.add(`${at}/op`, `unknown operator ${JSON.stringify(arg.op)} (must be one of ${Object.keys(CMP).join(', ')})`);
    return undefined;
  }
  if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) {
    problems.add(`${at}/index`, 'must be an argument number from 0 to 5');
    return undefined;
  }
  const datumA = uint64(arg.value, `${at}/value`, opts, problems);
  const datumB = arg.valueTwo === undefined ? 0n : uint64(arg.valueTwo, `${at}/valueTwo`, opts, problems);
  if (datumA === undefined || datumB === undefined) return undefined;
  return { arg: arg.index, op, datumA, datumB };
}

/**
 * A uint64 from config.json. Above 2^53 the parsed number is rounded, so the
 * exact digits are read from the text again; when the text is not at hand (or
 * no longer matches), the value is refused rather than silently changed.
 */
function uint64(value: number, pointer: string, opts: CompileOptions, problems: Problems): bigint | undefined {
  if (Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (!Number.isInteger(value) || value < 0) {
    problems.add(pointer, 'must be an integer from 0 to 18446744073709551615');
    return undefined;
  }
  const path = pointer
    .slice(1)
    .split('/')
    .map((t) => (/^\d+$/.test(t) ? Number(t) : t));
  let exact: bigint | undefined;
  try {
    exact = opts.exactConfig ? exactIntegerAt(opts.exactConfig(), path) : undefined;
  } catch {
    exact = undefined;
  }
  if (exact === undefined || Number(exact) !== value) {
    problems.add(pointer, `${value} is above 2^53 and its exact value cannot be read from config.json`);
    return undefined;
  }
  if (exact > UINT64_MAX) {
    problems.add(pointer, `${exact} is above the uint64 maximum 18446744073709551615`);
    return undefined;
  }
  return exact;
}
