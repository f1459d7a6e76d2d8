// A Kernel (src/sys/kernel.ts) that changes nothing: it records each call
// with its arguments, in order, and fails the calls a test tells it to. Fds
// in the arguments are recorded as the files they name, so a test reads
// "onto <rootfs>/proc", not "onto fd 17"; a path that is an fd's magic link
// (/proc/self/fd/N) as "fd:" and the file, which tells it from the same path
// given as a path (throughFd); a relative path with the working directory it
// was relative to.
// The fds it hands out are real, inert fds (closing them is harmless),
// numbered from 1000 so that the code's own fds never take their numbers: a
// detached mount is an O_PATH fd of its source, a new filesystem one of an
// empty directory, a filesystem context one of /dev/null.
import { closeSync, mkdtempSync, openSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Kernel } from '../../src/sys/kernel.js';
import { AT_EMPTY_PATH, AT_FDCWD, O, SysError, dup3, errnoNameMap } from '../../src/sys/libc.js';

export type CallName = keyof Kernel;

export interface RecordedCall {
  /** 'mark': a line the test put there (see mark). */
  call: CallName | 'mark';
  args: unknown[];
  /** The working directory, for a call given a relative path. */
  cwd?: string;
}

/** Argument positions that are fds, per call. */
const FD_ARGS: Partial<Record<CallName, number[]>> = {
  openTree: [0],
  moveMountFd: [0, 1],
  mountSetattr: [0],
  fsconfigSet: [0],
  fsCreateAndMount: [0],
  setns: [0],
  mknodat: [0],
  symlinkat: [1],
  fchownat: [0],
  fchmodat: [0],
};
/** Positions of paths that may name an fd (/proc/self/fd/N, or <pid>/fd/N relative to a procfs). */
const PATH_ARGS: Partial<Record<CallName, number[]>> = {
  mount: [0, 1],
  umount2: [0],
  pivotRoot: [0, 1],
  chroot: [0],
  fchownat: [1],
  fchmodat: [1],
};
/** Positions of paths that, when relative, are relative to the working directory. */
const CWD_ARGS: Partial<Record<CallName, number[]>> = { mount: [1], umount2: [0], pivotRoot: [0, 1], chroot: [0] };

const FIRST_FD = 1000;

interface Failure {
  call: CallName;
  errno: number;
  when: (args: unknown[]) => boolean;
}

/** The fd of a magic link: /proc/self/fd/N, or <pid>/fd/N relative to a procfs (Procfs.fdPath). */
function magicLinkFd(p: unknown): number | null {
  const match = typeof p === 'string' ? /^(?:\/proc\/)?(?:self|\d+)\/fd\/(\d+)$/.exec(p) : null;
  return match ? Number(match[1]) : null;
}

/** How a path argument that was an fd's magic link is recorded. */
export function throughFd(file: string): string {
  return `fd:${file}`;
}

export class KernelDouble implements Kernel {
  readonly calls: RecordedCall[] = [];
  private readonly failures: Failure[] = [];
  /** What each fd it handed out stands for (their numbers are never reused). */
  private readonly labels = new Map<number, string>();
  private scratch: string | undefined;
  private filesystems = 0;
  private nextFd = FIRST_FD;

  /** Every later `call` whose (recorded) arguments match `when` throws SysError with `code`. */
  fail(call: CallName, code: string, when: (args: unknown[]) => boolean = () => true): this {
    const errno = [...errnoNameMap()].find(([, name]) => name === code)?.[0];
    if (errno === undefined) throw new Error(`unknown errno ${code}`);
    this.failures.push({ call, errno, when });
    return this;
  }

  /** A line of the test's own in the record, e.g. where a hook ran. */
  mark(label: string): void {
    this.calls.push({ call: 'mark', args: [label] });
  }

  /** The recorded calls of these kinds, in order. */
  only(...names: (CallName | 'mark')[]): RecordedCall[] {
    return this.calls.filter((c) => names.includes(c.call));
  }

  /** Position in the record of the first call matching `call` and, when given, the leading `args`. */
  indexOf(call: CallName | 'mark', ...args: unknown[]): number {
    return this.calls.findIndex((c) => c.call === call && args.every((a, i) => isDeepStrictEqual(c.args[i], a)));
  }

  /** Removes what the double made for the new filesystems it handed out. */
  dispose(): void {
    if (this.scratch) rmSync(this.scratch, { recursive: true, force: true });
    this.scratch = undefined;
  }

  private record(call: CallName, raw: unknown[]): void {
    const args = [...raw];
    for (const i of FD_ARGS[call] ?? []) args[i] = this.describeFd(raw[i] as number);
    for (const i of PATH_ARGS[call] ?? []) {
      const fd = magicLinkFd(raw[i]);
      if (fd !== null) args[i] = throughFd(this.describeFd(fd));
    }
    const relative = (CWD_ARGS[call] ?? []).some((i) => typeof raw[i] === 'string' && !raw[i].startsWith('/') && magicLinkFd(raw[i]) === null);
    const entry: RecordedCall = { call, args };
    if (relative) entry.cwd = readlinkSync('/proc/self/cwd');
    this.calls.push(entry);
    const failure = this.failures.find((f) => f.call === call && f.when(args));
    if (failure) throw new SysError(call, failure.errno);
  }

  private describeFd(fd: number): string {
    if (fd === AT_FDCWD) return 'AT_FDCWD';
    return this.labels.get(fd) ?? readlinkSync(`/proc/self/fd/${fd}`);
  }

  /** `opened` moved to the double's own range of fd numbers. */
  private handOut(opened: number, label: string): number {
    const fd = this.nextFd++;
    dup3(opened, fd, O.CLOEXEC);
    closeSync(opened);
    this.labels.set(fd, label);
    return fd;
  }

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
    this.record('mount', [source, target, fstype, flags, data]);
  }
  umount2(target: string, flags: number): void {
    this.record('umount2', [target, flags]);
  }
  pivotRoot(newRoot: string, putOld: string): void {
    this.record('pivotRoot', [newRoot, putOld]);
  }
  chroot(p: string): void {
    this.record('chroot', [p]);
  }
  openTree(dirfd: number, p: string, flags: number): number {
    this.record('openTree', [dirfd, p, flags]);
    const source = flags & AT_EMPTY_PATH && p === '' ? `/proc/self/fd/${dirfd}` : dirfd === AT_FDCWD ? p : `/proc/self/fd/${dirfd}/${p}`;
    const opened = openSync(source, O.PATH | O.CLOEXEC);
    return this.handOut(opened, `tree of ${readlinkSync(`/proc/self/fd/${opened}`)}`);
  }
  moveMountFd(fromFd: number, toFd: number): void {
    this.record('moveMountFd', [fromFd, toFd]);
  }
  mountSetattr(fd: number, flags: number, attr: { set: number; clear: number; propagation?: number }): void {
    this.record('mountSetattr', [fd, flags, { propagation: 0, ...attr }]);
  }
  fsopen(fsname: string, flags: number): number {
    this.record('fsopen', [fsname, flags]);
    return this.handOut(openSync('/dev/null', O.RDONLY | O.CLOEXEC), `${fsname} context`);
  }
  fsconfigSet(fsfd: number, key: string, value: string | null): void {
    this.record('fsconfigSet', [fsfd, key, value]);
  }
  fsCreateAndMount(fsfd: number, attrs: number, subject: string): number {
    this.record('fsCreateAndMount', [fsfd, attrs, subject]);
    this.scratch ??= mkdtempSync(path.join(os.tmpdir(), 'kernel-double-'));
    const dir = mkdtempSync(path.join(this.scratch, 'fs-'));
    return this.handOut(openSync(dir, O.PATH | O.DIRECTORY | O.CLOEXEC), `new ${subject} #${++this.filesystems}`);
  }
  setns(fd: number, nstype: number, subject?: string): void {
    this.record('setns', subject === undefined ? [fd, nstype] : [fd, nstype, subject]);
  }
  unshare(flags: number): void {
    this.record('unshare', [flags]);
  }
  mknodat(dirfd: number, p: string, mode: number, dev: bigint): void {
    this.record('mknodat', [dirfd, p, mode, dev]);
  }
  symlinkat(target: string, dirfd: number, p: string): void {
    this.record('symlinkat', [target, dirfd, p]);
  }
  fchownat(dirfd: number, p: string, uid: number, gid: number, flags: number): void {
    this.record('fchownat', [dirfd, p, uid, gid, flags]);
  }
  fchmodat(dirfd: number, p: string, mode: number): void {
    this.record('fchmodat', [dirfd, p, mode]);
  }
  capset(sets: { effective: bigint; permitted: bigint; inheritable: bigint }): void {
    this.record('capset', [{ ...sets }]);
  }
  prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
    this.record('prctl', [option, a2, a3, a4, a5]);
    return 0;
  }
  setgroups(gids: number[]): void {
    this.record('setgroups', [[...gids]]);
  }
  setresgid(gid: number): void {
    this.record('setresgid', [gid]);
  }
  setresuid(uid: number): void {
    this.record('setresuid', [uid]);
  }
  prlimit(pid: number, resource: number, soft: bigint, hard: bigint, subject?: string): void {
    this.record('prlimit', [pid, resource, soft, hard, subject]);
  }
  sethostname(name: string): void {
    this.record('sethostname', [name]);
  }
  setdomainname(name: string): void {
    this.record('setdomainname', [name]);
  }
}
