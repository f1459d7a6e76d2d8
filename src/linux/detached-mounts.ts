// Making a mount without a second look at its path (CVE-2021-30465). A bind
// mount starts as a detached copy of its source (open_tree(2)), gets its
// flags while nothing else can reach it (mount_setattr(2)), and is attached
// onto the destination's fd (move_mount(2)). A new filesystem whose flags
// mount(2) can set as it makes it is mounted so, onto the destination's fd;
// one that needs more (a copy into it, a change of propagation) is made
// detached too (fsopen(2), fsconfig(2), fsmount(2)). Whatever changes after
// the attach goes through the fd of the mount itself, never through its
// path, which a process sharing a volume could have swapped for a symlink in
// between.
import { OciError } from '../errors.js';
import type { Mount } from '../spec/types.js';
import { AT_EMPTY_PATH, AT_FDCWD, AT_RECURSIVE, FSOPEN_CLOEXEC, MOUNT_ATTR, MS, O, OPEN_TREE_CLONE, SysError, close, strerror } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import type { MountAttributes } from './mount-options.js';

/** A detached copy of the mount at `path` (with its submounts when `recursive`). */
export function cloneMount(kernel: Kernel, path: string, recursive: boolean): number {
  return withMountApi(() => kernel.openTree(AT_FDCWD, path, OPEN_TREE_CLONE | O.CLOEXEC | (recursive ? AT_RECURSIVE : 0)));
}

/** A detached copy of the object `fd` names and every mount below it. */
export function cloneMountAt(kernel: Kernel, fd: number): number {
  return withMountApi(() => kernel.openTree(fd, '', OPEN_TREE_CLONE | O.CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
}

// Superblock flags of mount(2) as fsconfig(2) names them; the others are
// attributes of the mount (fsmount(2) attr_flags).
const SUPERBLOCK_FLAGS: [number, string][] = [
  [MS.RDONLY, 'ro'],
  [MS.SYNCHRONOUS, 'sync'],
  [MS.DIRSYNC, 'dirsync'],
  [MS.LAZYTIME, 'lazytime'],
];

/**
 * A new filesystem as a detached mount, configured as mount(2) would with the
 * same source, MS_* flags and data options ("size=1m,mode=700", ...), with the
 * mount attributes `attrs` already set. Closing its fd waits for the kernel
 * to free the mount's anonymous namespace: 0.3-0.8 ms on Linux 6.18, where
 * mount(2) costs 40 µs.
 */
export function newFilesystem(kernel: Kernel, fstype: string, source: string, data: string[], sbFlags: number, attrs: number): number {
  if (sbFlags & MS.I_VERSION) {
    // fsconfig(2) has no key for SB_I_VERSION: only mount(2) sets it.
    throw new OciError('unsupported', '"iversion" cannot go with "tmpcopyup" or a propagation option, which need the new mount API');
  }
  return withMountApi(() => {
    const fsfd = kernel.fsopen(fstype, FSOPEN_CLOEXEC);
    try {
      kernel.fsconfigSet(fsfd, 'source', source);
      for (const [flag, name] of SUPERBLOCK_FLAGS) if (sbFlags & flag) kernel.fsconfigSet(fsfd, name, null);
      for (const option of splitData(data)) {
        const eq = option.indexOf('=');
        if (eq < 0) kernel.fsconfigSet(fsfd, option, null);
        else kernel.fsconfigSet(fsfd, option.slice(0, eq), option.slice(eq + 1));
      }
      return kernel.fsCreateAndMount(fsfd, attrs, fstype);
    } finally {
      close(fsfd);
    }
  });
}

/**
 * mount(2)'s data is one comma-separated string; a quoted value (an SELinux
 * context="...:s0:c1,c2") keeps its commas, as the kernel splits it.
 */
function splitData(data: string[]): string[] {
  const options: string[] = [];
  for (const item of data) {
    let current = '';
    let quoted = false;
    for (const ch of item) {
      if (ch === '"') quoted = !quoted;
      if (ch === ',' && !quoted) {
        if (current) options.push(current);
        current = '';
      } else {
        current += ch;
      }
    }
    if (current) options.push(current);
  }
  return options;
}

/** Sets and clears attributes of the mount `fd` names (and of those below it when `recursive`). */
export function setAttributes(kernel: Kernel, fd: number, attrs: MountAttributes, recursive: boolean): void {
  if (attrs.set === 0 && attrs.clear === 0) return;
  withMountApi(() => kernel.mountSetattr(fd, recursive ? AT_RECURSIVE : 0, attrs));
}

/** Changes the propagation type of the mount `fd` names; MS_REC in `flag` takes its submounts along. */
export function setPropagation(kernel: Kernel, fd: number, flag: number): void {
  const attrs = { set: 0, clear: 0, propagation: flag & ~MS.REC };
  withMountApi(() => kernel.mountSetattr(fd, flag & MS.REC ? AT_RECURSIVE : 0, attrs));
}

/** Attaches the detached mount `treeFd` onto the object `destFd` names. */
export function attachMount(kernel: Kernel, treeFd: number, destFd: number): void {
  withMountApi(() => kernel.moveMountFd(treeFd, destFd));
}

/** mount_setattr(2)'s read-only attribute alone. */
export const READ_ONLY: MountAttributes = { set: MOUNT_ATTR.RDONLY, clear: 0 };

const MOUNT_API_CALLS = new Set(['open_tree', 'move_mount', 'fsopen', 'fsconfig', 'mount_setattr']);

/**
 * Kernels before 5.12 lack part of this API. Falling back to remounting by
 * path would reopen the race the API closes, so ocirun says so and stops.
 */
function withMountApi<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOSYS' && MOUNT_API_CALLS.has(err.call)) {
      throw new OciError(
        'unsupported',
        `${err.call}: this kernel lacks the mount API (open_tree, move_mount, fsopen: Linux 5.2; mount_setattr: Linux 5.12), ` +
          'which ocirun needs to set mount flags on the mount itself',
      );
    }
    throw err;
  }
}

/** "mount /dst (tmpfs from tmpfs): <why>": how every mount's failure reads. */
/** How errors name a mount of config.json. */
export function mountTarget(m: Mount): string {
  return `mount ${m.destination} (${m.type ?? 'bind'}${m.source ? ` from ${m.source}` : ''})`;
}

/** A system call's failure, without the /proc/self/fd/N names the mounts go through. */
export function describeError(err: unknown): string {
  if (err instanceof SysError) {
    const subject = err.subject && !err.subject.startsWith('/proc/self/fd/') ? ` ${err.subject}` : '';
    return `${err.call}${subject}: ${err.code} (${strerror(err.errno)})`;
  }
  return err instanceof Error ? err.message : String(err);
}
