// Processes and namespaces: clone3 arguments, unshare/setns, names, ids,
// prctl, limits, signals, waiting, capabilities, keyrings, seccomp,
// scheduling.
import { SYS } from './arch.js';
import { OciError } from '../errors.js';
import { check, E, f, koffi, loaded, SysError } from './ffi.js';

export const CLONE = {
  NEWTIME: 0x80,
  VM: 0x100,
  FS: 0x200,
  FILES: 0x400,
  SIGHAND: 0x800,
  PIDFD: 0x1000,
  PARENT: 0x8000,
  NEWNS: 0x20000,
  SYSVSEM: 0x40000,
  NEWCGROUP: 0x2000000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  INTO_CGROUP: 0x200000000,
} as const;

export const SIGCHLD = 17;
export const WNOHANG = 1;
export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
  SET_MM: 35,
  SET_MM_MAP: 14,
} as const;
export function unshare(flags: number): void {
  check(f.unshare(flags), 'unshare');
}
export function setns(fd: number, nstype: number, subject?: string): void {
  check(f.setns(fd, nstype), 'setns', subject);
}
export function sethostname(name: string): void {
  check(f.sethostname(name, Buffer.byteLength(name)), 'sethostname');
}
export function setdomainname(name: string): void {
  check(f.setdomainname(name, Buffer.byteLength(name)), 'setdomainname');
}
/** Only returns by throwing. */
export function execve(path: string, argv: string[], envp: string[]): never {
  f.execve(path, [...argv, null], [...envp, null]);
  throw new SysError('exec', koffi.errno(), path);
}
export function exit(status: number): never {
  f.exit(status);
  throw new OciError('internal', 'unreachable');
}
/** _exit(2), where the C library is loaded already; otherwise returns (loading it costs more than it would save). */
export function exitIfLoaded(status: number): void {
  if (loaded) exit(status);
}
export function setsid(): void {
  check(f.setsid(), 'setsid');
}
export function setresuid(uid: number): void {
  check(f.setresuid(uid, uid, uid), 'setresuid', String(uid));
}
export function setresgid(gid: number): void {
  check(f.setresgid(gid, gid, gid), 'setresgid', String(gid));
}
export function setgroups(gids: number[]): void {
  check(f.setgroups(gids.length, Uint32Array.from(gids)), 'setgroups');
}
export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  return check(f.prctl(option, a2, a3, a4, a5), 'prctl', String(option));
}
/**
 * prctl(PR_CAPBSET_READ): whether `cap` is in this process's bounding set;
 * null for a number above the kernel's last capability (EINVAL), which is no
 * failure: it is how the last one is found.
 */
export function capbsetRead(cap: number): boolean | null {
  const result = Number(f.prctl(PR.CAPBSET_READ, cap, 0, 0, 0));
  if (result !== -1) return result === 1;
  if (koffi.errno() === E.EINVAL) return null;
  throw new SysError('prctl', koffi.errno(), 'PR_CAPBSET_READ');
}
export function prlimit(pid: number, resource: number, soft: bigint, hard: bigint, subject?: string): void {
  const limits = new BigUint64Array([soft, hard]);
  check(f.prlimit(pid, resource, limits, null), 'setrlimit', subject);
}
export function kill(pid: number, sig: number): void {
  check(f.kill(pid, sig), 'kill', String(pid));
}
/** kill(2) through Node, which needs no koffi: `kill` and `delete` may not load it at all. */
export function tryKill(pid: number, sig: number | NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
/** Returns [pid, status] or [0, 0] with WNOHANG when nothing is ready. */
export function waitpid(pid: number, options = 0): [number, number] {
  const status = [0];
  for (;;) {
    const r = Number(f.waitpid(pid, status, options));
    if (r >= 0) return [r, status[0]];
    if (koffi.errno() !== E.EINTR) throw new SysError('waitpid', koffi.errno(), String(pid));
  }
}
export function getpid(): number {
  return f.getpid() as number;
}
export function resetSignalDisposition(sig: number): void {
  f.signal(sig, 0);
}
export function unblockAllSignals(): void {
  check(f.sigprocmask(2 /* SIG_SETMASK */, Buffer.alloc(128), Buffer.alloc(128)), 'sigprocmask');
}

/** clone3's struct clone_args (88 bytes, with the cgroup field), built ahead of the call. */
export function cloneArgs(flags: number, cgroupFd = -1): Buffer {
  const args = Buffer.alloc(88);
  let cloneFlags = BigInt(flags);
  if (cgroupFd >= 0) {
    cloneFlags |= BigInt(CLONE.INTO_CGROUP);
    args.writeBigUInt64LE(BigInt(cgroupFd), 80);
  }
  args.writeBigUInt64LE(cloneFlags, 0);
  args.writeBigUInt64LE(BigInt(SIGCHLD), 32); // exit_signal
  return args;
}

/**
 * keyctl(KEYCTL_JOIN_SESSION_KEYRING): a new session keyring, so the container
 * does not share the caller's keys (keyrings(7)). Kernels without keyrings
 * answer ENOSYS, which is not an error here (runc ignores it too).
 */
export function joinSessionKeyring(name: string): void {
  const r = Number(f.syscall(SYS.keyctl, 'int', 1, 'const char *', name));
  if (r === -1 && koffi.errno() !== E.ENOSYS) throw new SysError('keyctl', koffi.errno(), 'join session keyring');
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with `program` a struct
 * sock_filter[]; returns the listener's fd with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0.
 */
export function seccompSetModeFilter(program: Buffer, flags: number): number {
  sockFprog ??= koffi.pointer(koffi.struct('ocirun_sock_fprog', { len: 'uint16_t', filter: 'void *' }));
  const fprog = { len: program.length / 8, filter: program };
  return check(f.syscall(SYS.seccomp, 'unsigned int', 1, 'unsigned int', flags, sockFprog, fprog), 'seccomp', 'SECCOMP_SET_MODE_FILTER');
}
let sockFprog: unknown;

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}
/** capset(2) with _LINUX_CAPABILITY_VERSION_3 (two 32-bit words per set). */
export function capset(sets: CapSets): void {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x20080522, 0);
  header.writeInt32LE(0, 4);
  const data = Buffer.alloc(24);
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  data.writeUInt32LE(lo(sets.effective), 0);
  data.writeUInt32LE(lo(sets.permitted), 4);
  data.writeUInt32LE(lo(sets.inheritable), 8);
  data.writeUInt32LE(hi(sets.effective), 12);
  data.writeUInt32LE(hi(sets.permitted), 16);
  data.writeUInt32LE(hi(sets.inheritable), 20);
  check(f.syscall(SYS.capset, 'void *', header, 'void *', data), 'capset');
}

// ---- process attributes: execution domain, I/O priority, scheduling ----

/** personality(2); returns the previous persona. */
export function personality(persona: number): number {
  return check(f.personality(persona), 'personality', `0x${persona.toString(16)}`);
}
/** ioprio_set(2) (IOPRIO_WHO_PROCESS = 1, who 0 = the caller). */
export function ioprioSet(which: number, who: number, ioprio: number): void {
  check(f.syscall(SYS.ioprio_set, 'int', which, 'int', who, 'int', ioprio), 'ioprio_set');
}
/** sched_setattr(2) with a struct sched_attr already laid out in `attr`. */
export function schedSetattr(pid: number, attr: Buffer, flags = 0): void {
  check(f.syscall(SYS.sched_setattr, 'int', pid, 'void *', attr, 'unsigned int', flags), 'sched_setattr');
}
