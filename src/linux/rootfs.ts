// Building the container's root filesystem inside its new mount namespace:
// propagation, the bundle's mounts in order, /dev, pivot_root, then masked
// and read-only paths. Runs in the container's init before it execs.
import { fstatSync } from 'node:fs';
import path from 'node:path';
import type { Mount, Spec } from '../spec/types.js';
import {
  AT_EMPTY_PATH,
  MNT_DETACH,
  MOUNT_ATTR,
  MS,
  O,
  S_IFDIR,
  S_IFMT,
  SysError,
  chdir,
  close,
  fchdir,
  open,
  statAt,
  statfsFlags,
  statfsType,
} from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { makedev, openNullDevice, setupDev } from './devices.js';
import { TMPFS_MAGIC } from '../cgroups/host.js';
import { mountCgroupFs, type MountableHierarchies } from './cgroup-mount.js';
import { withMountLabel } from './lsm.js';
import { FLAG_ATTRIBUTES, mountAttributes, parseMountOptions, propagationFlag, type MountAttributes, type ParsedMountOptions } from './mount-options.js';
import { openMountDestination } from './mount-destination.js';
import { clonesSubmounts, isBindSource, openBindSourceInInit, type BindSources } from './bind-sources.js';
import { READ_ONLY, attachMount, cloneMountAt, describeError, mountTarget, newFilesystem, setAttributes, setPropagation } from './detached-mounts.js';
import { copyUp as copyUpInto } from './copy-up.js';
import { fdPath, lookupInRoot, openRoot } from './paths.js';
import { chrootInto } from './shared-root.js';
import { procfs } from './procfs.js';
import { messageOf, OciError, wrap } from '../errors.js';

export interface RootfsPlan {
  kernel: Kernel;
  config: Spec;
  rootfs: string;
  bundle: string;
  inUserNamespace: boolean;
  newCgroupNamespace: boolean;
  /** What a cgroup mount shows, from the runtime (see cgroup-mount.ts); else read from /proc/self. */
  cgroupHierarchies?: MountableHierarchies;
  /** How the init gets into the new root (see enterRoot). */
  entry: RootEntry;
  /** Bind sources the runtime opened (see bind-sources.ts); the others are opened here. Closed as they are used. */
  bindSources?: BindSources;
  /** Runs with every mount in place, before the switch into the new root (the create hooks). */
  beforePivot?(): void;
  /**
   * Runs `work` with what it allocates charged to the container's cgroups:
   * the copy of tmpcopyup, whose size the image decides.
   */
  charged?(work: () => void): void;
}

/**
 * pivot_root in a mount namespace of the container, created or joined (as
 * runc: in a joined one, pivot_root(2) also moves the other processes whose
 * root was the old root); 'move' for --no-pivot; 'chroot' in the runtime's own
 * mount namespace, where the runtime made the root's bind mount beforehand
 * (shared-root.ts) and nothing outside it may change.
 */
export type RootEntry = 'pivot' | 'move' | 'chroot';

/** Everything up to and including the switch into the new root. */
export function buildRootfs(plan: RootfsPlan): void {
  const { kernel, config, rootfs } = plan;
  // In the runtime's own mount namespace (chroot) propagation stays as it is.
  const rootPropagation = plan.entry === 'chroot' ? undefined : (propagationFlag(config.linux?.rootfsPropagation) ?? MS.SLAVE);
  if (rootPropagation !== undefined) {
    kernel.mount(null, '/', null, rootPropagation | MS.REC, null);
    makeParentMountPrivate(kernel, rootfs);
    kernel.mount(rootfs, rootfs, null, MS.BIND | MS.REC, null);
  }

  const rootFd = openRoot(rootfs);
  // fdPath moves the working directory; the create hooks get the one the init started with.
  const cwdFd = open('.', O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    (config.mounts ?? []).forEach((m, index) => mountOne(rootFd, m, index, plan, rootPropagation));
    if (!isBindMounted(config.mounts, '/dev')) setupDev(kernel, rootFd, config.linux?.devices ?? [], plan.inUserNamespace);
    fchdir(cwdFd);
  } finally {
    close(rootFd);
    close(cwdFd);
  }
  plan.beforePivot?.();
  enterRoot(kernel, rootfs, plan.entry);
}

function enterRoot(kernel: Kernel, rootfs: string, entry: RootEntry): void {
  if (entry === 'pivot') pivotInto(kernel, rootfs);
  else if (entry === 'move') moveRoot(kernel, rootfs);
  else chrootInto(kernel, rootfs);
}

/** What happens inside the new root after the process settings are known. */
export function finishRootfs(kernel: Kernel, config: Spec): void {
  const rootFd = openRoot('/');
  const masks = { nullFd: -1 };
  try {
    for (const p of config.linux?.readonlyPaths ?? []) makeReadonly(kernel, rootFd, p);
    for (const p of config.linux?.maskedPaths ?? []) mask(kernel, rootFd, p, masks);
  } finally {
    if (masks.nullFd >= 0) close(masks.nullFd);
    close(rootFd);
  }
  if (config.root.readonly) {
    const root = openRoot('/');
    try {
      setAttributes(kernel, root, READ_ONLY, false);
    } finally {
      close(root);
    }
  }
  // rootfsPropagation applies to the new root too (runtime-spec config-linux.md).
  const finalPropagation = propagationFlag(config.linux?.rootfsPropagation);
  if (finalPropagation !== undefined) kernel.mount(null, '/', null, finalPropagation, null);
}

/**
 * A mount namespace joined as it is (see RootEntry in init.ts): ocirun
 * changes nothing in it, so what the config asks to hide or protect must
 * already be so there (runc would apply them, after pivoting into a root it
 * cannot find there, and fails). A masked path must be a read-only tmpfs or
 * the null device, a read-only path and, with root.readonly, the root on a
 * read-only mount; else the create fails naming the field.
 */
export function checkJoinedRoot(config: Spec): void {
  const rootFd = openRoot('/');
  try {
    if (config.root.readonly && !(statfsFlags(fdPath(rootFd)) & MS.RDONLY)) {
      throw notInJoinedNamespace('root.readonly', '/', 'on a read-only mount');
    }
    for (const p of config.linux?.readonlyPaths ?? []) {
      if (!holds(rootFd, p, (fd) => (statfsFlags(fdPath(fd)) & MS.RDONLY) !== 0)) throw notInJoinedNamespace('linux.readonlyPaths', p, 'read-only');
    }
    for (const p of config.linux?.maskedPaths ?? []) {
      if (!holds(rootFd, p, isMask)) throw notInJoinedNamespace('linux.maskedPaths', p, 'masked');
    }
  } finally {
    close(rootFd);
  }
}

/** `p` is absent (nothing to hide or protect) or passes `check`. */
function holds(rootFd: number, p: string, check: (fd: number) => boolean): boolean {
  const fd = lookupInRoot(rootFd, p);
  if (fd === null) return true;
  try {
    return check(fd);
  } finally {
    close(fd);
  }
}

/** What mask() leaves: the null device over a file, a read-only tmpfs over a directory. */
function isMask(fd: number): boolean {
  const st = fstatSync(fd);
  if (st.isDirectory()) return statfsType(fdPath(fd)) === TMPFS_MAGIC && (statfsFlags(fdPath(fd)) & MS.RDONLY) !== 0;
  return st.isCharacterDevice() && BigInt(st.rdev) === makedev(1, 3);
}

function notInJoinedNamespace(field: string, p: string, what: string): OciError {
  return new OciError(
    'invalid-config',
    `${field}: ${p} is not ${what} in the joined mount namespace, whose root is not root.path and which ocirun takes as it is`,
  );
}

function isBindMounted(mounts: Mount[] | undefined, destination: string): boolean {
  return (mounts ?? []).some((m) => path.posix.normalize(`/${m.destination}`) === destination && parseMountOptions(m.options, m.type).isBind);
}

function mountOne(rootFd: number, m: Mount, index: number, plan: RootfsPlan, rootPropagation: number | undefined): void {
  const { kernel } = plan;
  const options = parseMountOptions(m.options, m.type);
  try {
    if (m.type === 'cgroup' || m.type === 'cgroup2') {
      const fd = openMountDestination(rootFd, m, 'dir');
      try {
        mountCgroupFs(kernel, fd, options, plan.newCgroupNamespace, plan.cgroupHierarchies);
      } finally {
        close(fd);
      }
    } else if (isBindSource(m, options)) {
      const opened = plan.bindSources?.get(index);
      const tree = opened ?? openBindSourceInInit(kernel, m, options, plan.bundle);
      plan.bindSources?.delete(index);
      try {
        attachBind(kernel, rootFd, m, tree, options, rootPropagation, opened !== undefined && plan.inUserNamespace);
      } finally {
        close(tree);
      }
    } else if (options.flags & MS.REMOUNT) {
      remount(kernel, rootFd, m, options);
    } else {
      mountFilesystem(kernel, rootFd, m, options, plan);
    }
  } catch (err) {
    throw wrap(err, mountTarget(m), { causeText: describeError(err) });
  }
}

/**
 * A bind mount, the last of its steps (bind-sources.ts): the detached copy
 * of its source, with its flags already, gets the propagation a bind made
 * inside the container would have, then is attached. One the runtime opened
 * in a user namespace is attached anew (attachedAnew) to list in its place.
 */
function attachBind(
  kernel: Kernel,
  rootFd: number,
  m: Mount,
  tree: number,
  options: ParsedMountOptions,
  rootPropagation: number | undefined,
  attachAnew: boolean,
): void {
  const isDir = (statAt(tree, '', AT_EMPTY_PATH).mode & S_IFMT) === S_IFDIR;
  const recursive = clonesSubmounts(options);
  if (rootPropagation !== undefined) setPropagation(kernel, tree, (rootPropagation & ~MS.REC) | (recursive ? MS.REC : 0));
  const fd = openMountDestination(rootFd, m, isDir ? 'dir' : 'file');
  let attached = tree;
  try {
    attachMount(kernel, tree, fd);
    if (attachAnew) attached = attachedAnew(kernel, tree, fd);
    for (const flag of options.propagation) setPropagation(kernel, attached, flag);
  } finally {
    close(fd);
    if (attached !== tree) close(attached);
  }
}

/**
 * Since Linux 6.8, /proc/self/mountinfo lists a namespace's mounts in the
 * order their ids were allocated. A tree the runtime opened before the init
 * made its mount namespace has ids lower than every mount of it, and would be
 * listed first, where config.mounts has it (runtime-spec config.md: mounts
 * in the listed order). Once attached, the tree is a mount of this namespace,
 * which open_tree(2) clones (a detached tree made in another namespace it
 * refuses with EINVAL): the clone has new ids and keeps the flags, their
 * locks and the id mapping. It takes the place of the tree, detached again.
 *
 * Only in a user namespace, where the copy's mounts are locked: the kernel
 * does not unmount a locked mount through propagation (fs/pnode.c). Without
 * one, under a shared parent (rootfsPropagation shared, a shared volume), the
 * unmount of the original spread to its peers and took their mounts along,
 * one of the host's included; there an id-mapped bind stays listed first.
 */
function attachedAnew(kernel: Kernel, tree: number, destFd: number): number {
  const clone = cloneMountAt(kernel, tree);
  try {
    try {
      kernel.umount2(fdPath(tree), MNT_DETACH);
    } catch (err) {
      throw err instanceof SysError ? new SysError('umount', err.errno, 'of the copy create had opened') : err;
    }
    attachMount(kernel, clone, destFd);
  } catch (err) {
    close(clone);
    throw err;
  }
  return clone;
}

/**
 * Any other type: a new filesystem. Its flags are given to mount(2) itself,
 * which sets them on the mount it makes, on the destination's fd. Only when
 * something must be done to the mount beyond that (a copy into it, a change
 * of propagation) is it made detached and kept by its fd, whose closing
 * costs every create up to a millisecond (see newFilesystem).
 */
function mountFilesystem(kernel: Kernel, rootFd: number, m: Mount, options: ParsedMountOptions, plan: RootfsPlan): void {
  if (!m.type) throw new OciError('invalid-config', 'a mount that is not a bind mount needs a type');
  const fd = openMountDestination(rootFd, m, 'dir');
  try {
    const data = withMountLabel(m.type, options.data, plan.config.linux?.mountLabel);
    // As runc: a tmpfs without mode= takes its mount point's mode, where the kernel would give 1777.
    if (m.type === 'tmpfs' && !data.some((d) => /(^|,)mode=/.test(d))) {
      data.push(`mode=${(statAt(fd, '', AT_EMPTY_PATH).mode & 0o7777).toString(8)}`);
    }
    const copyUp = options.runtime.has('tmpcopyup');
    if (copyUp && m.type !== 'tmpfs') throw new OciError('invalid-config', 'tmpcopyup applies to a tmpfs only');
    const source = m.source ?? m.type;
    // A new filesystem has no submounts: its recursive attributes are its own.
    const attrs = mountAttributes(options);
    attrs.set = (attrs.set & ~options.recursive.clear) | options.recursive.set;
    if (!copyUp && options.propagation.length === 0) {
      kernel.mount(source, fdPath(fd), m.type, options.flags | recursiveFlags(options.recursive), data.join(',') || null);
      return;
    }
    const readOnlyLater = copyUp && (attrs.set & READ_ONLY.set) !== 0;
    const sbFlags = readOnlyLater ? options.flags & ~MS.RDONLY : options.flags;
    const tree = newFilesystem(kernel, m.type, source, data, sbFlags, readOnlyLater ? attrs.set & ~READ_ONLY.set : attrs.set);
    try {
      if (copyUp) (plan.charged ?? ((work) => work()))(() => copyUpInto(fd, tree));
      if (readOnlyLater) setAttributes(kernel, tree, READ_ONLY, false);
      attachMount(kernel, tree, fd);
      for (const flag of options.propagation) setPropagation(kernel, tree, flag);
    } finally {
      close(tree);
    }
  } finally {
    close(fd);
  }
}

/** The r* options as mount(2) flags, for a mount made whole by mount(2). */
function recursiveFlags(recursive: MountAttributes): number {
  let set = 0;
  for (const [ms, attr] of FLAG_ATTRIBUTES) if (recursive.set & attr) set |= ms;
  if (recursive.clear & MOUNT_ATTR.ATIME_MASK) {
    const atime = recursive.set & MOUNT_ATTR.ATIME_MASK;
    set |= atime === MOUNT_ATTR.NOATIME ? MS.NOATIME : atime === MOUNT_ATTR.STRICTATIME ? MS.STRICTATIME : MS.RELATIME;
  }
  return set;
}

/** The "remount" option: the mount already at the destination, changed in place through the resolved fd. */
function remount(kernel: Kernel, rootFd: number, m: Mount, options: ParsedMountOptions): void {
  const fd = openMountDestination(rootFd, m, 'dir');
  try {
    kernel.mount(m.source ?? null, fdPath(fd), m.type ?? null, options.flags, options.data.join(',') || null);
    for (const flag of options.propagation) kernel.mount(null, fdPath(fd), null, flag, null);
  } finally {
    close(fd);
  }
}

/** pivot_root(2) refuses a new root whose parent mount is shared. */
function makeParentMountPrivate(kernel: Kernel, rootfs: string): void {
  let best = '/';
  for (const line of procfs().readSelf('mountinfo').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint && (rootfs === mountPoint || rootfs.startsWith(mountPoint === '/' ? '/' : `${mountPoint}/`))) {
      if (mountPoint.length > best.length) best = mountPoint;
    }
  }
  kernel.mount(null, best, null, MS.PRIVATE, null);
}

/**
 * pivot_root(".", ".") stacks the old root on top of the new one; detaching it
 * leaves only the new root (pivot_root(2), NOTES). Making it a slave first
 * keeps the unmount from propagating back to the host.
 */
function pivotInto(kernel: Kernel, rootfs: string): void {
  const oldRoot = open('/', O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  const newRoot = open(rootfs, O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  try {
    fchdir(newRoot);
    kernel.pivotRoot('.', '.');
    fchdir(oldRoot);
    kernel.mount(null, '.', null, MS.SLAVE | MS.REC, null);
    kernel.umount2('.', MNT_DETACH);
    chdir('/');
  } finally {
    close(oldRoot);
    close(newRoot);
  }
}

/** --no-pivot: for a root on a ramfs, where pivot_root(2) is refused. */
function moveRoot(kernel: Kernel, rootfs: string): void {
  chdir(rootfs);
  kernel.mount(rootfs, '/', null, MS.MOVE, null);
  kernel.chroot('.');
  chdir('/');
}

/** A read-only copy of the path and every mount below it, attached over it. */
function makeReadonly(kernel: Kernel, rootFd: number, p: string): void {
  const fd = lookupInRoot(rootFd, p);
  if (fd === null) return;
  try {
    const tree = cloneMountAt(kernel, fd);
    try {
      setAttributes(kernel, tree, READ_ONLY, true);
      attachMount(kernel, tree, fd);
    } finally {
      close(tree);
    }
  } finally {
    close(fd);
  }
}

/** Files are masked with the container's /dev/null, once it is verified to be the null device (CVE-2025-31133). */
function mask(kernel: Kernel, rootFd: number, p: string, masks: { nullFd: number }): void {
  const fd = lookupInRoot(rootFd, p);
  if (fd === null) return;
  try {
    if (fstatSync(fd).isDirectory()) {
      kernel.mount('tmpfs', fdPath(fd), 'tmpfs', MS.RDONLY, null);
    } else {
      if (masks.nullFd < 0) masks.nullFd = openNullDevice(rootFd);
      kernel.mount(fdPath(masks.nullFd), fdPath(fd), null, MS.BIND, null);
    }
  } catch (err) {
    throw wrap(err, `linux.maskedPaths: ${p}`, { causeText: describeError(err) });
  } finally {
    close(fd);
  }
}
