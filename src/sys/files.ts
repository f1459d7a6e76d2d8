// Files, directories and fds: open/openat, the *at calls, stat,
// directory listing, fd flags, ioctl, the working directory and root.
import { SYS } from './arch.js';
import { check, E, f, koffi, SysError } from './ffi.js';

export const O = {
  RDONLY: 0o0,
  WRONLY: 0o1,
  RDWR: 0o2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const RESOLVE = { NO_XDEV: 0x1, NO_MAGICLINKS: 0x2, NO_SYMLINKS: 0x4, BENEATH: 0x8, IN_ROOT: 0x10 } as const;
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export function open(path: string, flags: number, mode = 0): number {
  return check(f.open(path, flags, mode), 'open', path);
}
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(f.openat(dirfd, path, flags, mode), 'open', path);
}
export function close(fd: number): void {
  f.close(fd);
}
export function read(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (;;) {
    const n = Number(f.read(fd, buf, size));
    if (n >= 0) return buf.subarray(0, n);
    if (koffi.errno() !== E.EINTR) throw new SysError('read', koffi.errno());
  }
}
export function write(fd: number, data: Buffer | string): number {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  for (;;) {
    const n = Number(f.write(fd, buf, buf.length));
    if (n >= 0) return n;
    if (koffi.errno() !== E.EINTR) throw new SysError('write', koffi.errno());
  }
}
export function mkdirat(dirfd: number, path: string, mode: number): void {
  check(f.mkdirat(dirfd, path, mode), 'mkdir', path);
}
export function mknodat(dirfd: number, path: string, mode: number, dev: bigint): void {
  check(f.mknodat(dirfd, path, mode, dev), 'mknod', path);
}
export function symlinkat(target: string, dirfd: number, path: string): void {
  check(f.symlinkat(target, dirfd, path), 'symlink', path);
}
export function linkat(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string, flags: number): void {
  check(f.linkat(oldDirfd, oldPath, newDirfd, newPath, flags), 'link', newPath);
}
export const SEEK = { SET: 0, END: 2, DATA: 3, HOLE: 4 } as const;
/** lseek(2); null where SEEK_DATA finds no data past `offset` (ENXIO). */
export function lseek(fd: number, offset: number, whence: number): number | null {
  const r = Number(f.lseek(fd, offset, whence));
  if (r === -1 && koffi.errno() === E.ENXIO && whence === SEEK.DATA) return null;
  return check(r, 'lseek');
}
export function unlinkat(dirfd: number, path: string, flags: number): void {
  check(f.unlinkat(dirfd, path, flags), 'unlink', path);
}
export function readlinkat(dirfd: number, path: string): string {
  const buf = Buffer.alloc(4096);
  const n = check(f.readlinkat(dirfd, path, buf, buf.length), 'readlink', path);
  return buf.subarray(0, n).toString();
}
export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
  check(f.fchownat(dirfd, path, uid, gid, flags), 'chown', path);
}
export function fchmod(fd: number, mode: number): void {
  check(f.fchmod(fd, mode), 'chmod');
}
export function fchmodat(dirfd: number, path: string, mode: number): void {
  check(f.fchmodat(dirfd, path, mode, 0), 'chmod', path);
}

export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  /** Device number of a device node (st_rdev). */
  rdev: bigint;
  nlink: number;
  /** The file's identity: device "major:minor" and inode number. */
  dev: string;
  ino: bigint;
}
/** statx(2) of `path` relative to `dirfd` ('' with AT_EMPTY_PATH: the fd itself, O_PATH ones too). */
export function statAt(dirfd: number, path: string, flags: number): FileStat {
  const buf = Buffer.alloc(256);
  check(f.statx(dirfd, path, flags, 0x7ff /* STATX_BASIC_STATS */, buf), 'stat', path || `fd ${dirfd}`);
  const rdevMajor = buf.readUInt32LE(128);
  const rdevMinor = buf.readUInt32LE(132);
  return {
    mode: buf.readUInt16LE(28),
    uid: buf.readUInt32LE(20),
    gid: buf.readUInt32LE(24),
    rdev: (BigInt(rdevMajor & 0xfffff000) << 32n) | (BigInt(rdevMajor & 0xfff) << 8n) | (BigInt(rdevMinor & 0xffffff00) << 12n) | BigInt(rdevMinor & 0xff),
    nlink: buf.readUInt32LE(16),
    dev: `${buf.readUInt32LE(136)}:${buf.readUInt32LE(140)}`,
    ino: buf.readBigUInt64LE(32),
  };
}
export function mkfifo(path: string, mode: number): void {
  check(f.mkfifo(path, mode), 'mkfifo', path);
}
export function setCloexec(fd: number, on: boolean): void {
  const flags = check(f.fcntl(fd, F_GETFD), 'fcntl', `fd ${fd}`);
  check(f.fcntl(fd, F_SETFD, 'int', on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC), 'fcntl', `fd ${fd}`);
}
export function isOpenFd(fd: number): boolean {
  return Number(f.fcntl(fd, F_GETFD)) !== -1;
}
export function dup3(oldfd: number, newfd: number, flags: number): void {
  check(f.dup3(oldfd, newfd, flags), 'dup3');
}
/** Returns false when the lock is held elsewhere and `wait` is false. */
export function flock(fd: number, wait: boolean): boolean {
  for (;;) {
    if (Number(f.flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) === 0) return true;
    const errno = koffi.errno();
    if (errno === E.EWOULDBLOCK) return false;
    if (errno !== E.EINTR) throw new SysError('flock', errno);
  }
}
export function chdir(path: string): void {
  check(f.chdir(path), 'chdir', path);
}
/** getcwd(3); glibc fails with ENOENT when the directory is not below the root (the kernel's "(unreachable)"). */
export function getcwd(): string {
  const buf = Buffer.alloc(4096);
  if (f.getcwd(buf, buf.length) === null) throw new SysError('getcwd', koffi.errno());
  return buf.subarray(0, buf.indexOf(0)).toString();
}
export function fchdir(fd: number): void {
  check(f.fchdir(fd), 'fchdir');
}
export function chroot(path: string): void {
  check(f.chroot(path), 'chroot', path);
}
export function umask(mask: number): number {
  return f.umask(mask) as number;
}

/** ioctl(2) with a pointer argument (a buffer the kernel reads or fills). */
export function ioctl(fd: number, request: number, arg: Buffer, what: string): void {
  check(f.ioctl(fd, request, 'void *', arg), 'ioctl', what);
}
/** ioctl(2) with no argument, returning its result (e.g. NS_GET_NSTYPE, ioctl_ns(2)). */
export function ioctlResult(fd: number, request: number, what: string): number {
  return check(f.ioctl(fd, request, 'unsigned long', 0), 'ioctl', what);
}
/** f_type of the filesystem holding `path` (statfs(2)), e.g. NSFS_MAGIC. */
export function statfsType(path: string): number {
  const buf = Buffer.alloc(120);
  check(f.statfs(path, buf), 'statfs', path);
  return Number(buf.readBigInt64LE(0));
}
/** ioctl(2) with an integer argument; returns its result (a new fd for TIOCGPTPEER). */
export function ioctlInt(fd: number, request: number, arg: number, what: string): number {
  return check(f.ioctl(fd, request, 'unsigned long', arg), 'ioctl', what);
}
/** f_type of the filesystem holding the object behind `fd` (fstatfs(2); O_PATH fds too). */
export function fstatfsType(fd: number): number {
  const buf = Buffer.alloc(120);
  check(f.fstatfs(fd, buf), 'statfs', `fd ${fd}`);
  return Number(buf.readBigInt64LE(0));
}

export const CLOSE_RANGE_CLOEXEC = 4;
export function closeRange(first: number, last: number, flags = 0): void {
  check(f.syscall(SYS.close_range, 'unsigned int', first, 'unsigned int', last, 'unsigned int', flags), 'close_range');
}

/**
 * The fds a /proc/<pid>/fd directory just opened at `dirFd` lists (struct
 * linux_dirent64, getdents64(2); little-endian on the architectures of arch.ts).
 */
export function fdsListedIn(dirFd: number): number[] {
  const buf = Buffer.alloc(4096);
  const fds: number[] = [];
  for (;;) {
    const n = check(f.getdents64(dirFd, buf, buf.length), 'getdents64', 'fd directory');
    if (n === 0) return fds;
    for (let at = 0; at < n; at += buf.readUInt16LE(at + 16)) {
      const name = buf.toString('latin1', at + 19, buf.indexOf(0, at + 19));
      if (/^\d+$/.test(name)) fds.push(Number(name));
    }
  }
}

/** One entry of a directory, from getdents64(2): its name and d_type (DT_*; 0 when the filesystem does not say). */
export interface DirEntry {
  name: string;
  type: number;
}
export const DT = { FIFO: 1, CHR: 2, DIR: 4, BLK: 6, REG: 8, LNK: 10, SOCK: 12 } as const;
/** Every entry of the directory open at `fd` but "." and "..". */
export function readDirectory(fd: number): DirEntry[] {
  const entries: DirEntry[] = [];
  const buf = Buffer.alloc(32768);
  for (;;) {
    const n = check(f.syscall(SYS.getdents64, 'int', fd, 'void *', buf, 'size_t', buf.length), 'getdents');
    if (n === 0) return entries;
    for (let off = 0; off < n;) {
      const reclen = buf.readUInt16LE(off + 16);
      const nameEnd = buf.indexOf(0, off + 19);
      const name = buf.toString('utf8', off + 19, nameEnd);
      if (name !== '.' && name !== '..') entries.push({ name, type: buf.readUInt8(off + 18) });
      off += reclen;
    }
  }
}
