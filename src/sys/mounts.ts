// Mounts: mount(2), umount2(2), pivot_root(2), and the mount API of detached
// mounts whose flags are set before they are attached.
import { SYS } from './arch.js';
import { check, f, koffi, SysError } from './ffi.js';
import { AT_EMPTY_PATH } from './files.js';

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  I_VERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;
export const MNT_DETACH = 2;

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
  check(f.mount(source, target, fstype, flags, data), 'mount', target);
}
export function umount2(target: string, flags: number): void {
  check(f.umount2(target, flags), 'umount', target);
}

/** The mount flags (MS_*) of the mount holding `path`, from statfs(2) f_flags (ST_*). */
export function statfsFlags(path: string): number {
  const buf = Buffer.alloc(120);
  check(f.statfs(path, buf), 'statfs', path);
  const st = Number(buf.readBigUInt64LE(80));
  const map: [number, number][] = [
    [1, MS.RDONLY],
    [2, MS.NOSUID],
    [4, MS.NODEV],
    [8, MS.NOEXEC],
    [16, MS.SYNCHRONOUS],
    [64, MS.MANDLOCK],
    [1024, MS.NOATIME],
    [2048, MS.NODIRATIME],
    [4096, MS.RELATIME],
    [8192, MS.NOSYMFOLLOW],
  ];
  return map.reduce((acc, [stBit, msBit]) => (st & stBit ? acc | msBit : acc), 0);
}
/** The id of the mount an fd is on (statx(2) STATX_MNT_ID, Linux 5.8), as in mountinfo's first field. */
export function mountIdOf(fd: number): number {
  const STATX_MNT_ID = 0x1000;
  const buf = Buffer.alloc(256);
  check(f.statx(fd, '', AT_EMPTY_PATH, STATX_MNT_ID, buf), 'statx');
  if ((buf.readUInt32LE(0) & STATX_MNT_ID) === 0) throw new SysError('statx', 95 /* EOPNOTSUPP */, 'STATX_MNT_ID');
  return Number(buf.readBigUInt64LE(144)); // stx_mnt_id
}

export function pivotRoot(newRoot: string, putOld: string): void {
  check(f.syscall(SYS.pivot_root, 'const char *', newRoot, 'const char *', putOld), 'pivot_root', newRoot);
}

// ---- the mount API: detached mounts whose flags are set before they are attached ----
// open_tree, move_mount, fsopen, fsconfig, fsmount: Linux 5.2; mount_setattr: 5.12.

export const OPEN_TREE_CLONE = 1;
export const MOVE_MOUNT = { F_EMPTY_PATH: 0x4, T_EMPTY_PATH: 0x40 } as const;
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  ATIME_MASK: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  IDMAP: 0x100000,
  NOSYMFOLLOW: 0x200000,
} as const;
const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;

/** move_mount(2) of the mount at `fromFd` onto the object `toFd` names (both fds, no path lookup). */
export function moveMountFd(fromFd: number, toFd: number): void {
  check(
    f.syscall(
      SYS.move_mount,
      'int',
      fromFd,
      'const char *',
      '',
      'int',
      toFd,
      'const char *',
      '',
      'unsigned int',
      MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH,
    ),
    'move_mount',
  );
}
/**
 * mount_setattr(2) on the mount `fd` names; with AT_RECURSIVE its submounts
 * too. `usernsFd` goes with MOUNT_ATTR_IDMAP in `set`.
 */
export function mountSetattr(fd: number, flags: number, attr: { set: number; clear: number; propagation?: number; usernsFd?: number }): void {
  const buf = Buffer.alloc(32);
  buf.writeBigUInt64LE(BigInt(attr.set), 0);
  buf.writeBigUInt64LE(BigInt(attr.clear), 8);
  buf.writeBigUInt64LE(BigInt(attr.propagation ?? 0), 16);
  buf.writeBigUInt64LE(BigInt(attr.usernsFd ?? 0), 24);
  check(
    f.syscall(SYS.mount_setattr, 'int', fd, 'const char *', '', 'unsigned int', flags | AT_EMPTY_PATH, 'void *', buf, 'size_t', buf.length),
    'mount_setattr',
  );
}
/** fsconfig(2) with a string value, or a flag when `value` is null. */
export function fsconfigSet(fsfd: number, key: string, value: string | null): void {
  const r =
    value === null
      ? f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.SET_FLAG, 'const char *', key, 'const char *', null, 'int', 0)
      : f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.SET_STRING, 'const char *', key, 'const char *', value, 'int', 0);
  checkFs(r, fsfd, value === null ? key : `${key}=${value}`);
}
/** fsconfig(FSCONFIG_CMD_CREATE) then fsmount(2): the new filesystem as a detached mount with `attrs` (MOUNT_ATTR_*). */
export function fsCreateAndMount(fsfd: number, attrs: number, subject: string): number {
  checkFs(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.CMD_CREATE, 'const char *', null, 'const char *', null, 'int', 0), fsfd, subject);
  return checkFs(f.syscall(SYS.fsmount, 'int', fsfd, 'unsigned int', 1 /* FSMOUNT_CLOEXEC */, 'unsigned int', attrs), fsfd, subject);
}
/** A failed fsconfig/fsmount explains itself in messages read from the context's fd ("e tmpfs: Bad value for 'mode'"). */
function checkFs(result: number | bigint, fsfd: number, subject: string): number {
  if (Number(result) !== -1) return Number(result);
  const errno = koffi.errno();
  const messages: string[] = [];
  const buf = Buffer.alloc(1024);
  for (;;) {
    const n = Number(f.read(fsfd, buf, buf.length));
    if (n <= 0) break;
    messages.push(
      buf
        .subarray(0, n)
        .toString()
        .replace(/^[ewi] /, ''),
    );
  }
  throw new SysError('fsconfig', errno, messages.length > 0 ? `${subject} (${messages.join('; ')})` : subject);
}

// The mount API of Linux 5.2 (fsopen(2), fsconfig(2), fsmount(2), open_tree(2)).
export const FSOPEN_CLOEXEC = 1;
export const FSCONFIG_CMD_CREATE = 6;
export const FSMOUNT_CLOEXEC = 1;

export function fsopen(fsname: string, flags: number): number {
  return check(f.syscall(SYS.fsopen, 'const char *', fsname, 'unsigned int', flags), 'fsopen', fsname);
}
/** fsconfig(2) with no key or value (the FSCONFIG_CMD_* commands). */
export function fsconfigCommand(fsfd: number, cmd: number): void {
  check(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', cmd, 'void *', null, 'void *', null, 'int', 0), 'fsconfig');
}
/** fsconfig(2) FSCONFIG_SET_FD: `key` takes the file `fd` (an O_PATH one since Linux 6.15). */
export function fsconfigFd(fsfd: number, key: string, fd: number): void {
  check(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', 5, 'const char *', key, 'void *', null, 'int', fd), 'fsconfig', key);
}
/** fsconfig(2) FSCONFIG_SET_STRING: `key` takes the string `value`. */
export function fsconfigString(fsfd: number, key: string, value: string): void {
  check(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', 1, 'const char *', key, 'const char *', value, 'int', 0), 'fsconfig', key);
}
export function fsmount(fsfd: number, flags: number, attrs: number): number {
  return check(f.syscall(SYS.fsmount, 'int', fsfd, 'unsigned int', flags, 'unsigned int', attrs), 'fsmount');
}
export function openTree(dirfd: number, path: string, flags: number): number {
  return check(f.syscall(SYS.open_tree, 'int', dirfd, 'const char *', path, 'unsigned int', flags), 'open_tree', path);
}
