// Building the container's root filesystem inside its new mount namespace:
// propagation, the bundle's mounts in order, /dev, pivot_root, then masked
// and read-only paths. Runs in the container's init before it execs.
import { fstatSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Mount, Spec } from '../spec/types.js';
import {
  MNT_DETACH, MS, O, SysError, chdir, chroot, close, fchdir, mount, open, pivotRoot, statfsFlags, umount2,
} from '../sys/libc.js';
import { openNullDevice, setupDev } from './devices.js';
import { mountCgroupFs, type MountableHierarchies } from './cgroup-mount.js';
import { withMountLabel } from './lsm.js';
import { parseMountOptions, propagationFlag, type ParsedMountOptions } from './mount-options.js';
import { openMountDestination } from './mount-destination.js';
import { ensureInRoot, fdPath, lookupInRoot, openRoot } from './paths.js';
import { chrootInto } from './shared-root.js';
import { procfs } from './procfs.js';
import { messageOf, OciError, wrap } from '../errors.js';

export interface RootfsPlan {
  config: Spec;
  rootfs: string;
  bundle: string;
  inUserNamespace: boolean;
  newCgroupNamespace: boolean;
  /** What a cgroup mount shows, from the runtime (see cgroup-mount.ts); else read from /proc/self. */
  cgroupHierarchies?: MountableHierarchies;
  /** How the init gets into the new root (see enterRoot). */
  entry: RootEntry;
  /** Runs with every mount in place, before the switch into the new root (the create hooks). */
  beforePivot?(): void;
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
  const { config, rootfs } = plan;
  if (plan.entry !== 'chroot') {
    const rootPropagation = propagationFlag(config.linux?.rootfsPropagation) ?? MS.SLAVE;
    mount(null, '/', null, rootPropagation | MS.REC, null);
    makeParentMountPrivate(rootfs);
    mount(rootfs, rootfs, null, MS.BIND | MS.REC, null);
  }

  const rootFd = openRoot(rootfs);
  // fdPath moves the working directory; the create hooks get the one the init started with.
  const cwdFd = open('.', O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    for (const m of config.mounts ?? []) mountOne(rootFd, m, plan);
    if (!isBindMounted(config.mounts, '/dev')) setupDev(rootFd, config.linux?.devices ?? [], plan.inUserNamespace);
    fchdir(cwdFd);
  } finally {
    close(rootFd);
    close(cwdFd);
  }
  plan.beforePivot?.();
  enterRoot(rootfs, plan.entry);
}

function enterRoot(rootfs: string, entry: RootEntry): void {
  if (entry === 'pivot') pivotInto(rootfs);
  else if (entry === 'move') moveRoot(rootfs);
  else chrootInto(rootfs);
}

/** What happens inside the new root after the process settings are known. */
export function finishRootfs(config: Spec): void {
  const rootFd = openRoot('/');
  const masks = { nullFd: -1 };
  try {
    for (const p of config.linux?.readonlyPaths ?? []) makeReadonly(rootFd, p);
    for (const p of config.linux?.maskedPaths ?? []) mask(rootFd, p, masks);
  } finally {
    if (masks.nullFd >= 0) close(masks.nullFd);
    close(rootFd);
  }
  if (config.root.readonly) {
    mount(null, '/', null, MS.BIND | MS.REMOUNT | MS.RDONLY | lockedFlags('/'), null);
  }
  // rootfsPropagation applies to the new root too (runtime-spec config-linux.md).
  const finalPropagation = propagationFlag(config.linux?.rootfsPropagation);
  if (finalPropagation !== undefined) mount(null, '/', null, finalPropagation, null);
}

function isBindMounted(mounts: Mount[] | undefined, destination: string): boolean {
  return (mounts ?? []).some(
    (m) => path.posix.normalize(`/${m.destination}`) === destination && parseMountOptions(m.options, m.type).isBind,
  );
}

function mountOne(rootFd: number, m: Mount, plan: RootfsPlan): void {
  const options = parseMountOptions(m.options, m.type);
  try {
    if (m.type === 'cgroup' || m.type === 'cgroup2') {
      close(openMountDestination(rootFd, m, 'dir'));
      mountCgroupFs(rootFd, m.destination, options, plan.newCgroupNamespace, plan.cgroupHierarchies);
    } else if (options.isBind) {
      bindMount(rootFd, m, options, plan.bundle);
    } else {
      const fd = openMountDestination(rootFd, m, 'dir');
      try {
        const data = withMountLabel(m.type, options.data, plan.config.linux?.mountLabel);
        mount(m.source ?? m.type ?? 'none', fdPath(fd), m.type ?? null, options.flags, data.join(',') || null);
        applyPropagation(rootFd, m.destination, options);
      } finally {
        close(fd);
      }
    }
  } catch (err) {
    throw wrap(err, `mount ${m.destination} (${m.type ?? 'bind'}${m.source ? ` from ${m.source}` : ''})`, { causeText: describe(err) });
  }
}

function bindMount(rootFd: number, m: Mount, options: ParsedMountOptions, bundle: string): void {
  const source = path.resolve(bundle, m.source ?? '');
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch (err) {
    throw new OciError('container-init', `source ${source} does not exist`, [], { cause: err });
  }
  const fd = openMountDestination(rootFd, m, isDir ? 'dir' : 'file');
  try {
    mount(source, fdPath(fd), null, MS.BIND | (options.flags & MS.REC), null);
  } finally {
    close(fd);
  }
  // A bind mount ignores every other flag: they need a remount of the new mount,
  // keeping the flags the kernel locked when the source came from a more
  // privileged mount namespace (mount(2), "locked" mounts in user namespaces).
  const extraFlags = options.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  if (extraFlags !== 0) {
    const mounted = ensureInRoot(rootFd, m.destination, 'dir');
    try {
      const target = fdPath(mounted);
      mount(null, target, null, MS.BIND | MS.REMOUNT | extraFlags | (lockedFlags(target) & ~clearedFlags(m.options)), null);
    } finally {
      close(mounted);
    }
  }
  applyPropagation(rootFd, m.destination, options);
}

function applyPropagation(rootFd: number, destination: string, options: ParsedMountOptions): void {
  if (options.propagation.length === 0) return;
  const fd = ensureInRoot(rootFd, destination, 'dir');
  try {
    for (const flag of options.propagation) mount(null, fdPath(fd), null, flag, null);
  } finally {
    close(fd);
  }
}

const LOCKABLE = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.RELATIME;

function lockedFlags(target: string): number {
  return statfsFlags(target) & LOCKABLE & ~MS.RDONLY;
}

function clearedFlags(options: string[] = []): number {
  const cleared: Record<string, number> = { suid: MS.NOSUID, dev: MS.NODEV, exec: MS.NOEXEC, atime: MS.NOATIME };
  return options.reduce((acc, o) => acc | (cleared[o] ?? 0), 0);
}

/** pivot_root(2) refuses a new root whose parent mount is shared. */
function makeParentMountPrivate(rootfs: string): void {
  let best = '/';
  for (const line of procfs().readSelf('mountinfo').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint && (rootfs === mountPoint || rootfs.startsWith(mountPoint === '/' ? '/' : `${mountPoint}/`))) {
      if (mountPoint.length > best.length) best = mountPoint;
    }
  }
  mount(null, best, null, MS.PRIVATE, null);
}

/**
 * pivot_root(".", ".") stacks the old root on top of the new one; detaching it
 * leaves only the new root (pivot_root(2), NOTES). Making it a slave first
 * keeps the unmount from propagating back to the host.
 */
function pivotInto(rootfs: string): void {
  const oldRoot = open('/', O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  const newRoot = open(rootfs, O.DIRECTORY | O.RDONLY | O.CLOEXEC);
  try {
    fchdir(newRoot);
    pivotRoot('.', '.');
    fchdir(oldRoot);
    mount(null, '.', null, MS.SLAVE | MS.REC, null);
    umount2('.', MNT_DETACH);
    chdir('/');
  } finally {
    close(oldRoot);
    close(newRoot);
  }
}

/** --no-pivot: for a root on a ramfs, where pivot_root(2) is refused. */
function moveRoot(rootfs: string): void {
  chdir(rootfs);
  mount(rootfs, '/', null, MS.MOVE, null);
  chroot('.');
  chdir('/');
}

function makeReadonly(rootFd: number, p: string): void {
  const fd = lookupInRoot(rootFd, p);
  if (fd === null) return;
  try {
    mount(fdPath(fd), fdPath(fd), null, MS.BIND | MS.REC, null);
  } finally {
    close(fd);
  }
  const mounted = lookupInRoot(rootFd, p);
  if (mounted === null) return;
  try {
    const target = fdPath(mounted);
    mount(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.REC | lockedFlags(target), null);
  } finally {
    close(mounted);
  }
}

/** Files are masked with the container's /dev/null, once it is verified to be the null device (CVE-2025-31133). */
function mask(rootFd: number, p: string, masks: { nullFd: number }): void {
  const fd = lookupInRoot(rootFd, p);
  if (fd === null) return;
  try {
    if (fstatSync(fd).isDirectory()) {
      mount('tmpfs', fdPath(fd), 'tmpfs', MS.RDONLY, null);
    } else {
      if (masks.nullFd < 0) masks.nullFd = openNullDevice(rootFd);
      mount(fdPath(masks.nullFd), fdPath(fd), null, MS.BIND, null);
    }
  } catch (err) {
    throw wrap(err, `linux.maskedPaths: ${p}`, { causeText: describe(err) });
  } finally {
    close(fd);
  }
}

function describe(err: unknown): string {
  if (err instanceof SysError) return `${err.call}: ${err.code} (${err.message.split('(').pop()?.replace(')', '')})`;
  return messageOf(err);
}

