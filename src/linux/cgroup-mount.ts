// A `cgroup` mount in config.json: what the container sees at /sys/fs/cgroup.
// With its own cgroup namespace the container gets fresh cgroup filesystem
// mounts whose root is its own cgroup (cgroup_namespaces(7)); without one it
// gets bind mounts of its own cgroup directories from the host. On cgroup v1
// that is a tmpfs holding one directory per hierarchy, as on the host.
import path from 'node:path';
import { MOUNT_ATTR, MS, O, close, mkdirat, openat } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { mountAttributes, type MountAttributes, type ParsedMountOptions } from './mount-options.js';
import { attachMount, cloneMount, newFilesystem, setAttributes } from './detached-mounts.js';
import { fdPath } from './paths.js';
import { procfs } from './procfs.js';
import { directoryOf, parseHost, type CgroupHost, type Hierarchy } from '../cgroups/host.js';
import { UNIFIED } from '../cgroups/types.js';

/** A host cgroup hierarchy as the container's /sys/fs/cgroup shows it. */
export interface MountableHierarchy {
  /** Directory name under /sys/fs/cgroup, e.g. "cpu,cpuacct", "systemd", "unified". */
  name: string;
  fstype: 'cgroup' | 'cgroup2';
  /** mount(2) data selecting the hierarchy, e.g. "cpu,cpuacct" or "none,name=systemd". */
  data: string | null;
  /** The process's own cgroup directory in this hierarchy, on the host. */
  hostDir: string;
}

export interface MountableHierarchies {
  /** A pure cgroup v2 host: one hierarchy, mounted at the destination itself. */
  unified: boolean;
  hierarchies: MountableHierarchy[];
}

function mountable(h: Hierarchy, hostDir: string): MountableHierarchy {
  return {
    name: path.basename(h.mountPoint),
    fstype: h.version === 2 ? 'cgroup2' : 'cgroup',
    data: h.version === 2 ? null : h.controllers.every((c) => c.startsWith('name=')) ? `none,${h.controllers.join(',')}` : h.controllers.join(','),
    hostDir,
  };
}

/** The cgroup hierarchies mounted on the host and a process's place in each. */
export function hostHierarchies(pid: number | 'self' = 'self'): MountableHierarchies {
  const proc = procfs();
  const host = parseHost(proc.readSelf('mountinfo'), proc.read(`${pid === 'self' ? proc.selfDir() : pid}/cgroup`));
  return { unified: host.mode === 'v2', hierarchies: host.hierarchies.map((h) => mountable(h, directoryOf(h, h.ownCgroup))) };
}

/**
 * The same for a new container, from its cgroup directories (a manager's
 * paths), or undefined when it has none. The runtime works it out for the
 * init, which could not read it from its /proc/self/cgroup: it joins its v1
 * memory cgroup only at the end (process/spawn.ts), after the mounts.
 */
export function containerHierarchies(host: CgroupHost, paths: Record<string, string>): MountableHierarchies | undefined {
  const hierarchies: MountableHierarchy[] = [];
  for (const h of host.hierarchies) {
    const dir = paths[h.version === 2 ? UNIFIED : h.controllers[0]];
    if (!dir) return undefined;
    hierarchies.push(mountable(h, dir));
  }
  return { unified: host.mode === 'v2', hierarchies };
}

/**
 * Mounts at `destFd`, the destination already resolved inside the root and
 * checked (openMountDestination): nothing is looked up by path again, so a
 * process sharing a volume cannot swap the destination for a symlink in
 * between (CVE-2021-30465). On cgroup v1 the hierarchies go into a tmpfs
 * made detached and attached there, whose fd then names its root: their
 * mount points are made and reached from that fd.
 */
export function mountCgroupFs(
  kernel: Kernel,
  destFd: number,
  options: ParsedMountOptions,
  ownNamespace: boolean,
  known: MountableHierarchies | undefined,
): void {
  const { unified, hierarchies } = known ?? hostHierarchies();
  const flags = (options.flags & ~(MS.BIND | MS.REC)) | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const attrs = mountAttributes({ ...options, flags });
  if (unified) {
    mountHierarchy(kernel, destFd, hierarchies[0], flags, attrs, ownNamespace);
    return;
  }
  // Read-only once the hierarchies' mount points and links are in it.
  const tmpfs = newFilesystem(kernel, 'tmpfs', 'tmpfs', ['mode=755'], 0, attrs.set & ~MOUNT_ATTR.RDONLY);
  try {
    attachMount(kernel, tmpfs, destFd);
    for (const h of hierarchies) {
      mkdirat(tmpfs, h.name, 0o755);
      const fd = openat(tmpfs, h.name, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
      try {
        mountHierarchy(kernel, fd, h, flags, attrs, ownNamespace);
      } finally {
        close(fd);
      }
      const controllers = h.name.split(',');
      if (controllers.length > 1) {
        for (const c of controllers) linkController(kernel, tmpfs, h.name, c);
      }
    }
    if (flags & MS.RDONLY) setAttributes(kernel, tmpfs, { set: MOUNT_ATTR.RDONLY, clear: 0 }, false);
  } finally {
    close(tmpfs);
  }
}

/** A hierarchy of the container's own cgroup namespace, or a bind of its cgroup directory on the host. */
function mountHierarchy(kernel: Kernel, fd: number, h: MountableHierarchy, flags: number, attrs: MountAttributes, ownNamespace: boolean): void {
  if (ownNamespace) {
    // mount(2) sets the flags on the mount it makes.
    kernel.mount('cgroup', fdPath(fd), h.fstype, flags, h.data);
    return;
  }
  const tree = cloneMount(kernel, h.hostDir, true);
  try {
    setAttributes(kernel, tree, attrs, false);
    attachMount(kernel, tree, fd);
  } finally {
    close(tree);
  }
}

function linkController(kernel: Kernel, dirFd: number, target: string, name: string): void {
  try {
    kernel.symlinkat(target, dirFd, name);
  } catch {
    // already there (e.g. two hierarchies share a controller name): keep the first
  }
}
