// The runtime's own handle on procfs. Whatever a container's tree holds at
// /proc (a symlink, a volume bind-mounted over /proc/self, a forged
// directory, nothing at all), the init reads and writes process and kernel
// settings through a procfs it opened before any of the container's mounts
// existed (runc CVE-2019-16884, CVE-2019-19921, CVE-2023-27561,
// CVE-2023-28642, CVE-2025-52881), and never through a path of the
// container's tree.
//
// The handle is, in order of preference: a new procfs instance of our own
// that no other process can reach (fsopen(2) + fsmount(2): a detached mount),
// a detached copy of the /proc mount without the mounts on top of it
// (open_tree(2) OPEN_TREE_CLONE), or /proc itself. Each is checked to be the
// root of a procfs, and every lookup below it follows no symlink and crosses
// no mount (openat2(2) RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV).
import { fstatSync, readFileSync } from 'node:fs';
import {
  AT_FDCWD,
  FSCONFIG_CMD_CREATE,
  FSMOUNT_CLOEXEC,
  FSOPEN_CLOEXEC,
  MOUNT_ATTR,
  O,
  OPEN_TREE_CLONE,
  RESOLVE,
  SysError,
  close,
  fchdir,
  fsconfigCommand,
  fsmount,
  fsopen,
  fstatfsType,
  openTree,
  openat,
  openat2,
  readlinkat,
  write,
} from '../sys/libc.js';
import { messageOf, OciError } from '../errors.js';

const PROC_SUPER_MAGIC = 0x9fa0;
/** The root directory of every procfs instance has inode 1 (fs/proc/root.c, PROC_ROOT_INO). */
const PROC_ROOT_INO = 1;
const STRICT = RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_XDEV;

export class Procfs {
  constructor(readonly fd: number) {}

  /** This process's directory: its pid in the pid namespace of this procfs (read from its "self" link, not followed). */
  selfDir(): string {
    const pid = readlinkat(this.fd, 'self');
    if (!/^[1-9][0-9]*$/.test(pid)) throw new OciError('system', `procfs: "self" names ${JSON.stringify(pid)}, not a process`);
    return pid;
  }

  /** Opens `relative` (e.g. "sys/kernel/cap_last_cap") below the procfs root. */
  open(relative: string, flags: number): number {
    try {
      return openat2(this.fd, relative, flags | O.CLOEXEC, 0, STRICT);
    } catch (err) {
      if (err instanceof SysError) throw new SysError('open', err.errno, `/proc/${relative}`);
      throw err;
    }
  }

  openSelf(file: string, flags: number): number {
    return this.open(`${this.selfDir()}/${file}`, flags);
  }

  read(relative: string): string {
    const fd = this.open(relative, O.RDONLY);
    try {
      return readFileSync(fd, 'utf8');
    } finally {
      close(fd);
    }
  }

  readSelf(file: string): string {
    return this.read(`${this.selfDir()}/${file}`);
  }

  /** One write(2) of the whole value, as the kernel's proc and sysctl files expect. */
  write(relative: string, value: string): void {
    const fd = this.open(relative, O.WRONLY);
    try {
      write(fd, value);
    } catch (err) {
      if (err instanceof SysError) throw new SysError('write', err.errno, `/proc/${relative}`);
      throw err;
    } finally {
      close(fd);
    }
  }

  writeSelf(file: string, value: string): void {
    this.write(`${this.selfDir()}/${file}`, value);
  }

  exists(relative: string): boolean {
    try {
      close(this.open(relative, O.PATH));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A path naming the object behind `fd`, for system calls that take only
   * paths (mount(2), statfs(2)): its magic link in this procfs, relative to
   * the working directory, which this moves to the procfs root. Use it at
   * once, before anything else changes the working directory. Only for the
   * single-threaded init: the working directory is the whole process's.
   */
  fdPath(fd: number): string {
    fchdir(this.fd);
    return `${this.selfDir()}/fd/${fd}`;
  }

  close(): void {
    close(this.fd);
  }
}

/** A verified procfs handle (see the top of this file for which one). */
export function openProcfs(): Procfs {
  const failures: string[] = [];
  for (const [what, attempt] of [
    ['a new procfs', newProcfs],
    ['a copy of /proc', copyOfProcMount],
    ['/proc', plainProc],
  ] as const) {
    let fd = -1;
    try {
      fd = attempt();
      verifyProcRoot(fd, what);
      return new Procfs(fd);
    } catch (err) {
      if (fd >= 0) close(fd);
      failures.push(messageOf(err));
    }
  }
  throw new OciError('system', `no procfs to work with: ${failures.join('; ')}`);
}

function newProcfs(): number {
  const fsfd = fsopen('proc', FSOPEN_CLOEXEC);
  try {
    fsconfigCommand(fsfd, FSCONFIG_CMD_CREATE);
    return fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC);
  } finally {
    close(fsfd);
  }
}

function copyOfProcMount(): number {
  return openTree(AT_FDCWD, '/proc', OPEN_TREE_CLONE | O.CLOEXEC);
}

function plainProc(): number {
  return openat(AT_FDCWD, '/proc', O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
}

function verifyProcRoot(fd: number, what: string): void {
  const type = fstatfsType(fd);
  if (type !== PROC_SUPER_MAGIC) throw new OciError('system', `${what} is not a procfs (filesystem type 0x${type.toString(16)})`);
  if (fstatSync(fd).ino !== PROC_ROOT_INO) throw new OciError('system', `${what} is not the root of a procfs`);
}

let current: Procfs | undefined;

/** The process's procfs handle, opened on first use. */
export function procfs(): Procfs {
  current ??= openProcfs();
  return current;
}

/** Closes the handle; a later procfs() opens a new one. */
export function releaseProcfs(): void {
  current?.close();
  current = undefined;
}

/**
 * The init's first step: a handle of its own (not one inherited from the
 * runtime), opened before it joins or builds anything of the container.
 */
export function openInitProcfs(): void {
  current?.close();
  current = undefined;
  current = openProcfs();
}
