// /dev inside the container: the default device nodes every container gets
// (runtime-spec config-linux.md "Default Devices"), linux.devices, and the
// standard symlinks. In a user namespace mknod(2) is refused, so host nodes
// are bind-mounted onto empty files instead, as runc does.
import path from 'node:path';
import type { Device } from '../spec/types.js';
import {
  AT_SYMLINK_NOFOLLOW, MS, S_IFBLK, S_IFCHR, S_IFIFO, SysError, close, fchownat, mknodat, mount, symlinkat, umask, unlinkat,
} from '../sys/libc.js';
import { ensureInRoot, fdPath } from './paths.js';
import { procfs } from './procfs.js';

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

export function setupDev(rootFd: number, devices: Device[], inUserNamespace: boolean): void {
  const byPath = new Map<string, Device>();
  for (const d of [...DEFAULT_DEVICES, ...devices]) {
    const where = devicePath(d.path);
    byPath.set(where, { ...d, path: where });
  }
  const oldMask = umask(0);
  try {
    for (const device of byPath.values()) {
      if (inUserNamespace) bindHostDevice(rootFd, device);
      else makeDeviceNode(rootFd, device);
    }
  } finally {
    umask(oldMask);
  }
  const links = [...SYMLINKS];
  if (procfs().exists('kcore')) links.push(['/proc/kcore', '/dev/core']);
  for (const [target, link] of links) makeSymlink(rootFd, target, link);
  replaceWithSymlink(rootFd, 'pts/ptmx', '/dev/ptmx');
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

function makeDeviceNode(rootFd: number, device: Device): void {
  const dirFd = ensureInRoot(rootFd, path.posix.dirname(device.path), 'dir');
  const name = path.posix.basename(device.path);
  try {
    const mode = TYPE_BITS[device.type] | ((device.fileMode ?? 0o666) & 0o7777);
    try {
      // A FIFO has no device numbers: any in the config are ignored.
      const dev = device.type === 'p' ? 0n : makedev(device.major ?? 0, device.minor ?? 0);
      mknodat(dirFd, name, mode, dev);
    } catch (err) {
      if (!(err instanceof SysError && err.code === 'EEXIST')) throw err;
      return;
    }
    fchownat(dirFd, name, device.uid ?? 0, device.gid ?? 0, AT_SYMLINK_NOFOLLOW);
  } catch (err) {
    throw new Error(`device ${device.path}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    close(dirFd);
  }
}

function bindHostDevice(rootFd: number, device: Device): void {
  const fd = ensureInRoot(rootFd, device.path, 'file');
  try {
    mount(device.path, fdPath(fd), null, MS.BIND, null);
  } catch (err) {
    throw new Error(`device ${device.path}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    close(fd);
  }
}

function makeSymlink(rootFd: number, target: string, link: string): void {
  const dirFd = ensureInRoot(rootFd, path.posix.dirname(link), 'dir');
  try {
    symlinkat(target, dirFd, path.posix.basename(link));
  } catch (err) {
    if (!(err instanceof SysError && err.code === 'EEXIST')) throw err;
  } finally {
    close(dirFd);
  }
}

function replaceWithSymlink(rootFd: number, target: string, link: string): void {
  const dirFd = ensureInRoot(rootFd, path.posix.dirname(link), 'dir');
  try {
    unlinkAt(dirFd, path.posix.basename(link));
    symlinkat(target, dirFd, path.posix.basename(link));
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
