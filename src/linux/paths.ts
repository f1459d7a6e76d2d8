// Resolving and creating paths inside the container's root without ever
// leaving it. openat2(2) with RESOLVE_IN_ROOT treats every symlink and ".."
// as if the root were "/", so a hostile rootfs cannot point a mount
// destination at the host. Mounts then target the object that was resolved,
// through its fd's magic link in the runtime's procfs (procfs.ts), not a path
// that could be swapped in between or a /proc of the container's.
import { fstatSync } from 'node:fs';
import { AT_FDCWD, O, RESOLVE, SysError, close, mkdirat, openat, openat2, readlinkat } from '../sys/libc.js';
import { E } from '../sys/ffi.js';
import { MAX_SYMLINKS } from '../sys/resolve-in-root.js';
import { procfs } from './procfs.js';

const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;

export function openRoot(rootfs: string): number {
  return openat(AT_FDCWD, rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC);
}

/** See Procfs.fdPath: valid until the working directory changes. */
export function fdPath(fd: number): string {
  return procfs().fdPath(fd);
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** O_PATH fd of `p` resolved inside the root, or null when it does not exist. */
export function lookupInRoot(rootFd: number, p: string): number | null {
  try {
    return openat2(rootFd, components(p).join('/') || '.', O.PATH | O.CLOEXEC, 0, IN_ROOT);
  } catch (err) {
    if (err instanceof SysError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return null;
    throw err;
  }
}

/** O_PATH fd of `p` inside the root when no symlink is on the way; null when it does not exist; ELOOP through a symlink. */
export function lookupWithoutSymlinks(rootFd: number, p: string): number | null {
  try {
    return openat2(rootFd, components(p).join('/') || '.', O.PATH | O.CLOEXEC, 0, IN_ROOT | RESOLVE.NO_SYMLINKS);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Returns an O_PATH fd of `p` inside the root, creating missing directories
 * (and, when `leaf` is 'file', an empty file as the last component) with
 * `mode`. Symlinks are followed within the root, dangling ones too: what is
 * missing is created where they point, inside the root, as runc and crun do.
 */
export function ensureInRoot(rootFd: number, p: string, leaf: 'dir' | 'file', mode = 0o755): number {
  // Most paths exist (mount points, masked paths): one lookup, not one per component.
  const existing = lookupInRoot(rootFd, p);
  if (existing !== null) return existing;
  // `done`: directories that exist, none of them a symlink; `todo`: what is left to walk.
  const done: string[] = [];
  let todo = components(p);
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '..') {
      done.pop(); // never above the root, as RESOLVE_IN_ROOT
      continue;
    }
    const here = [...done, name].join('/');
    const found = lstatInRoot(rootFd, here);
    if (found === 'missing') {
      create(rootFd, done, name, todo.length === 0 ? leaf : 'dir', mode);
    } else if (found !== 'other') {
      if (++links > MAX_SYMLINKS) throw new SysError('open', E.ELOOP, p);
      if (found.startsWith('/')) done.length = 0;
      todo = [...components(found), ...todo];
      continue;
    }
    done.push(name);
  }
  return openat2(rootFd, done.join('/') || '.', O.PATH | O.CLOEXEC, 0, IN_ROOT);
}

/** The target of `relative` when it is a symlink, 'missing', or 'other' for anything else. */
function lstatInRoot(rootFd: number, relative: string): string | 'missing' | 'other' {
  let fd: number;
  try {
    fd = openat2(rootFd, relative, O.PATH | O.NOFOLLOW | O.CLOEXEC, 0, IN_ROOT);
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    return fstatSync(fd).isSymbolicLink() ? readlinkat(fd, '') : 'other';
  } finally {
    close(fd);
  }
}

function create(rootFd: number, parent: string[], name: string, kind: 'dir' | 'file', mode: number): void {
  const parentFd = openat2(rootFd, parent.join('/') || '.', O.PATH | O.DIRECTORY | O.CLOEXEC, 0, IN_ROOT);
  try {
    if (kind === 'file') close(openat(parentFd, name, O.CREAT | O.EXCL | O.NOFOLLOW | O.WRONLY | O.CLOEXEC, 0o644));
    else mkdirat(parentFd, name, mode);
  } finally {
    close(parentFd);
  }
}
