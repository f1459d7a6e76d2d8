// Resolving and creating paths inside the container's root without ever
// leaving it. openat2(2) with RESOLVE_IN_ROOT treats every symlink and ".."
// as if the root were "/", so a hostile rootfs cannot point a mount
// destination at the host. Mounts then target the object that was resolved,
// through its fd's magic link in the runtime's procfs (procfs.ts), not a path
// that could be swapped in between or a /proc of the container's.
import { AT_FDCWD, O, RESOLVE, SysError, close, mkdirat, openat, openat2 } from '../sys/libc.js';
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

/**
 * Returns an O_PATH fd of `p` inside the root, creating missing directories
 * (and, when `leaf` is 'file', an empty file as the last component) with
 * `mode`. Every step is resolved in the root, so a symlink planted on the path
 * is followed only within the container.
 */
export function ensureInRoot(rootFd: number, p: string, leaf: 'dir' | 'file', mode = 0o755): number {
  // Most paths exist (mount points, masked paths): one lookup, not one per component.
  const existing = lookupInRoot(rootFd, p);
  if (existing !== null) return existing;
  const parts = components(p);
  let parentFd = rootFd;
  let ownsParent = false;
  try {
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join('/');
      let fd = lookupInRoot(rootFd, prefix);
      if (fd === null) {
        const last = i === parts.length - 1;
        if (last && leaf === 'file') {
          close(openat(parentFd, parts[i], O.CREAT | O.EXCL | O.NOFOLLOW | O.WRONLY | O.CLOEXEC, 0o644));
        } else {
          mkdirat(parentFd, parts[i], mode);
        }
        fd = openat2(rootFd, prefix, O.PATH | O.CLOEXEC, 0, IN_ROOT);
      }
      if (ownsParent) close(parentFd);
      parentFd = fd;
      ownsParent = true;
    }
  } catch (err) {
    if (ownsParent) close(parentFd);
    throw err;
  }
  return ownsParent ? parentFd : openat2(rootFd, '.', O.PATH | O.CLOEXEC, 0, IN_ROOT);
}
