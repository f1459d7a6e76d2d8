// A container with no mount namespace in its config shares the runtime's (as
// does one whose config names the runtime's own by path), so its mounts land in the host's mount table. They all go on one bind mount of
// the root filesystem onto itself, made by the runtime before the init exists:
// a lazy unmount of it (umount2(2) MNT_DETACH takes the whole subtree) removes
// every one of them at delete or after a failed create. Nothing else of the
// host changes: unlike in a mount namespace of the container's, neither "/"
// nor the root's parent mount get another propagation, and the init chroots
// instead of pivot_root(2), which would switch the root of every process of
// the host.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Spec } from '../spec/types.js';
import { MNT_DETACH, MS, O, chdir, close, fchdir, mountIdOf, open } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { attachMount, cloneMount, setPropagation } from './detached-mounts.js';
import { propagationFlag } from './mount-options.js';
import { fdPath } from './paths.js';
import { OciError } from '../errors.js';

/** In the runtime's mount namespace, before any namespace is joined. */
export function sharesRuntimeMountNamespace(config: Spec): boolean {
  const mount = (config.linux?.namespaces ?? []).find((ns) => ns.type === 'mount');
  if (!mount) return true;
  if (!mount.path) return false;
  // Joining the runtime's own: pivot_root there would move every process of the host.
  try {
    const joined = statSync(mount.path);
    const own = statSync('/proc/self/ns/mnt');
    return joined.dev === own.dev && joined.ino === own.ino;
  } catch {
    return false; // openJoins says what is wrong with the path
  }
}

/**
 * Binds the root onto itself, a slave of the host's mounts (or as
 * linux.rootfsPropagation says) so that the container's mounts do not
 * propagate out. Returns the new mount's id, for releaseSharedRoot.
 *
 * The bind starts detached (open_tree(2)), its id is recorded in the
 * container's directory (`containerDir`), and only then is it attached: a
 * runtime killed before the attach leaves nothing (the kernel drops a
 * detached mount with its last fd), one killed after it leaves a mount that
 * `delete` finds by the record even without a state.
 */
export function bindSharedRoot(kernel: Kernel, config: Spec, rootfs: string, containerDir: string): number {
  const tree = cloneMount(kernel, rootfs, true);
  try {
    const mountId = mountIdOf(tree);
    writeFileSync(path.join(containerDir, RECORD), JSON.stringify({ rootfs, mountId }), { mode: 0o600 });
    const fd = open(rootfs, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
    try {
      attachMount(kernel, tree, fd);
    } finally {
      close(fd);
    }
    try {
      setPropagation(kernel, tree, (propagationFlag(config.linux?.rootfsPropagation) ?? MS.SLAVE) | MS.REC);
    } catch (err) {
      releaseSharedRoot(kernel, rootfs, mountId);
      throw err;
    }
    return mountId;
  } finally {
    close(tree);
  }
}

const RECORD = 'shared-root.json';

/** For a delete without a readable state: the root's bind mount a create recorded, if it is still there. */
export function releaseRecordedSharedRoot(kernel: Kernel, containerDir: string): void {
  let recorded: { rootfs?: unknown; mountId?: unknown };
  try {
    recorded = JSON.parse(readFileSync(path.join(containerDir, RECORD), 'utf8'));
  } catch {
    return; // nothing recorded
  }
  if (typeof recorded.rootfs === 'string' && typeof recorded.mountId === 'number') releaseSharedRoot(kernel, recorded.rootfs, recorded.mountId);
}

/** Detaches the root's bind mount with all the mounts on it, if the mount on top of the root is still that one. */
export function releaseSharedRoot(kernel: Kernel, rootfs: string, mountId: number): void {
  let fd: number;
  try {
    fd = open(rootfs, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
  } catch {
    return; // the root is gone, and its mounts with it
  }
  try {
    if (mountIdOf(fd) === mountId) kernel.umount2(fdPath(fd), MNT_DETACH);
  } finally {
    close(fd);
  }
}

/** The init, once the mounts are made: the root changes for this process alone. */
export function chrootInto(kernel: Kernel, rootfs: string): void {
  chdir(rootfs);
  kernel.chroot('.');
  chdir('/');
}

/** An exec'd process: into the root the container's init chrooted into, if it is still that bind mount. */
export function enterSharedRoot(kernel: Kernel, rootfs: string, mountId: number): void {
  const fd = open(rootfs, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
  try {
    if (mountIdOf(fd) !== mountId) throw new OciError('container-init', `the container's root ${rootfs} is no longer the bind mount its create made`);
    fchdir(fd);
    kernel.chroot('.');
    chdir('/');
  } finally {
    close(fd);
  }
}
