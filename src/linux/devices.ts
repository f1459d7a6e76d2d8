// /dev inside the container: the default device nodes every container gets
// (runtime-spec config-linux.md "Default Devices"), linux.devices, and the
// standard symlinks. In a user namespace mknod(2) is refused, so host nodes
// are bind-mounted onto empty files instead, as runc does. An entry the
// image (or a volume) already has at a device's path is never trusted: it
// stays only when it is that very device.
import { fstatSync } from 'node:fs';
import path from 'node:path';
import type { Device } from '../spec/types.js';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  MS,
  O,
  RESOLVE,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  S_IFMT,
  SysError,
  close,
  openat,
  openat2,
  statAt,
  umask,
  unlinkat,
} from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { ensureInRoot, fdPath } from './paths.js';
import { procfs } from './procfs.js';
import { OciError, wrap } from '../errors.js';

export const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666 },
];

const SYMLINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

export function setupDev(kernel: Kernel, rootFd: number, devices: Device[], inUserNamespace: boolean): void {
  const byPath = new Map<string, Device>();
  for (const d of [...DEFAULT_DEVICES, ...devices]) {
    const where = devicePath(d.path);
    byPath.set(where, { ...d, path: where });
  }
  const oldMask = umask(0);
  try {
    for (const device of byPath.values()) {
      if (inUserNamespace) bindHostDevice(kernel, rootFd, device);
      else makeDeviceNode(kernel, rootFd, device);
    }
  } finally {
    umask(oldMask);
  }
  const links = [...SYMLINKS];
  if (procfs().exists('kcore')) links.push(['/proc/kcore', '/dev/core']);
  for (const [target, link] of links) makeSymlink(kernel, rootFd, target, link);
  replaceWithSymlink(kernel, rootFd, 'pts/ptmx', '/dev/ptmx');
}

/** Normalized, without a trailing slash (which would make the host's node fail with ENOTDIR). */
function devicePath(p: string): string {
  return path.posix.normalize(p).replace(/(.)\/+$/, '$1');
}

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

const TYPE_BITS: Record<Device['type'], number> = { c: S_IFCHR, u: S_IFCHR, b: S_IFBLK, p: S_IFIFO };

function makeDeviceNode(kernel: Kernel, rootFd: number, device: Device): void {
  const dirFd = ensureInRoot(rootFd, path.posix.dirname(device.path), 'dir');
  const name = path.posix.basename(device.path);
  try {
    const mode = TYPE_BITS[device.type] | ((device.fileMode ?? 0o666) & 0o7777);
    // A FIFO has no device numbers: any in the config are ignored.
    const dev = device.type === 'p' ? 0n : makedev(device.major ?? 0, device.minor ?? 0);
    const existing = entryAt(dirFd, name);
    if (existing && (existing.mode & S_IFMT) === TYPE_BITS[device.type] && BigInt(existing.rdev) === dev) {
      // Kept (it may be a mount point), but with the mode and owner the config gives, not the image's.
      setModeAndOwner(kernel, dirFd, name, TYPE_BITS[device.type], mode & 0o7777, device.uid ?? 0, device.gid ?? 0);
      return;
    }
    if (existing) unlinkat(dirFd, name, 0);
    kernel.mknodat(dirFd, name, mode, dev);
    kernel.fchownat(dirFd, name, device.uid ?? 0, device.gid ?? 0, AT_SYMLINK_NOFOLLOW);
  } catch (err) {
    throw wrap(err, `device ${device.path}`);
  } finally {
    close(dirFd);
  }
}

/** chmod and chown of the node `name`, through an fd of it: a symlink put there meanwhile is refused, never followed. */
function setModeAndOwner(kernel: Kernel, dirFd: number, name: string, type: number, mode: number, uid: number, gid: number): void {
  const fd = openat(dirFd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
  try {
    if ((statAt(fd, '', AT_EMPTY_PATH).mode & S_IFMT) !== type) throw new OciError('container-init', `${name} changed while it was set up`);
    kernel.fchmodat(AT_FDCWD, fdPath(fd), mode);
    kernel.fchownat(AT_FDCWD, fdPath(fd), uid, gid, 0);
  } finally {
    close(fd);
  }
}

/** Onto an empty file made here: whatever the image had at that path (a symlink, another file) goes first. */
function bindHostDevice(kernel: Kernel, rootFd: number, device: Device): void {
  const dirFd = ensureInRoot(rootFd, path.posix.dirname(device.path), 'dir');
  const name = path.posix.basename(device.path);
  let fd = -1;
  try {
    if (entryAt(dirFd, name)) unlinkat(dirFd, name, 0);
    close(openat(dirFd, name, O.CREAT | O.EXCL | O.NOFOLLOW | O.WRONLY | O.CLOEXEC, 0o644));
    fd = openat(dirFd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
    kernel.mount(device.path, fdPath(fd), null, MS.BIND, null);
  } catch (err) {
    throw wrap(err, `device ${device.path}`);
  } finally {
    if (fd >= 0) close(fd);
    close(dirFd);
  }
}

/** lstat(2) of `name` in `dirFd`, or null when there is nothing. */
function entryAt(dirFd: number, name: string): { mode: number; rdev: number } | null {
  let fd: number;
  try {
    fd = openat(dirFd, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    return { mode: st.mode, rdev: st.rdev };
  } finally {
    close(fd);
  }
}

/**
 * An O_PATH fd of the container's /dev/null for masking files, refused unless
 * it is the character device 1:3 reached without a symlink: a file or symlink
 * there would turn every mask into a bind of what it names (CVE-2025-31133).
 */
export function openNullDevice(rootFd: number): number {
  let fd: number;
  try {
    fd = openat2(rootFd, 'dev/null', O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS);
  } catch (err) {
    throw wrap(err, '/dev/null cannot mask anything', { errnoOnly: true });
  }
  const st = fstatSync(fd);
  if (!st.isCharacterDevice() || BigInt(st.rdev) !== makedev(1, 3)) {
    close(fd);
    throw new OciError('container-init', '/dev/null cannot mask anything: it is not the character device 1:3');
  }
  return fd;
}

function makeSymlink(kernel: Kernel, rootFd: number, target: string, link: string): void {
  const dirFd = ensureInRoot(rootFd, path.posix.dirname(link), 'dir');
  try {
    kernel.symlinkat(target, dirFd, path.posix.basename(link));
  } catch (err) {
    if (!(err instanceof SysError && err.code === 'EEXIST')) throw err;
  } finally {
    close(dirFd);
  }
}

function replaceWithSymlink(kernel: Kernel, rootFd: number, target: string, link: string): void {
  const dirFd = ensureInRoot(rootFd, path.posix.dirname(link), 'dir');
  try {
    unlinkAt(dirFd, path.posix.basename(link));
    kernel.symlinkat(target, dirFd, path.posix.basename(link));
  } finally {
    close(dirFd);
  }
}

function unlinkAt(dirFd: number, name: string): void {
  try {
    unlinkat(dirFd, name, 0);
  } catch (err) {
    if (!(err instanceof SysError && err.code === 'ENOENT')) throw err;
  }
}
