// A `cgroup` mount in config.json: what the container sees at /sys/fs/cgroup.
// With its own cgroup namespace the container gets fresh cgroup filesystem
// mounts whose root is its own cgroup (cgroup_namespaces(7)); without one it
// gets bind mounts of its own cgroup directories from the host. On cgroup v1
// that is a tmpfs holding one directory per hierarchy, as on the host.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MS, close, mount, symlinkat } from '../sys/libc.js';
import type { ParsedMountOptions } from './mount-options.js';
import { ensureInRoot, fdPath } from './paths.js';

export interface Hierarchy {
  /** Directory name under /sys/fs/cgroup, e.g. "cpu,cpuacct", "systemd", "unified". */
  name: string;
  fstype: 'cgroup' | 'cgroup2';
  /** mount(2) data selecting the hierarchy, e.g. "cpu,cpuacct" or "none,name=systemd". */
  data: string | null;
  hostMountPoint: string;
  /** This process's cgroup inside the hierarchy. */
  cgroupPath: string;
}

/** The cgroup hierarchies mounted on the host and a process's place in each. */
export function hostHierarchies(pid: number | 'self' = 'self'): Hierarchy[] {
  const membership = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, controllers, cgroupPath] = line.split(':');
    membership.set(controllers, cgroupPath);
  }
  const hierarchies: Hierarchy[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    const fstype = fields[sep + 1];
    const mountPoint = fields[4];
    if (fstype === 'cgroup2') {
      const cgroupPath = membership.get('');
      if (cgroupPath !== undefined) {
        hierarchies.push({ name: path.basename(mountPoint), fstype, data: null, hostMountPoint: mountPoint, cgroupPath });
      }
    } else if (fstype === 'cgroup') {
      const superOptions = fields[sep + 3].split(',');
      const key = [...membership.keys()].find((k) => k !== '' && k.split(',').every((c) => superOptions.includes(c)));
      if (key === undefined) continue;
      const data = key.startsWith('name=') ? `none,${key}` : key;
      hierarchies.push({ name: path.basename(mountPoint), fstype, data, hostMountPoint: mountPoint, cgroupPath: membership.get(key)! });
    }
  }
  return hierarchies;
}

export function mountCgroupFs(rootFd: number, destination: string, options: ParsedMountOptions, ownNamespace: boolean): void {
  const hierarchies = hostHierarchies();
  const flags = (options.flags & ~(MS.BIND | MS.REC)) | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const unified = hierarchies.length === 1 && hierarchies[0].fstype === 'cgroup2';
  if (unified) {
    mountHierarchy(rootFd, destination, hierarchies[0], flags, ownNamespace);
    return;
  }
  const top = ensureInRoot(rootFd, destination, 'dir');
  try {
    mount('tmpfs', fdPath(top), 'tmpfs', (flags & ~MS.RDONLY), 'mode=755');
  } finally {
    close(top);
  }
  for (const h of hierarchies) {
    mountHierarchy(rootFd, path.posix.join(destination, h.name), h, flags, ownNamespace);
    const controllers = h.name.split(',');
    if (controllers.length > 1) {
      for (const c of controllers) linkInRoot(rootFd, destination, h.name, c);
    }
  }
  if (flags & MS.RDONLY) {
    const again = ensureInRoot(rootFd, destination, 'dir');
    try {
      mount(null, fdPath(again), null, MS.REMOUNT | flags, 'mode=755');
    } finally {
      close(again);
    }
  }
}

function mountHierarchy(rootFd: number, destination: string, h: Hierarchy, flags: number, ownNamespace: boolean): void {
  const fd = ensureInRoot(rootFd, destination, 'dir');
  try {
    if (ownNamespace) {
      mount('cgroup', fdPath(fd), h.fstype, flags, h.data);
      return;
    }
    mount(path.join(h.hostMountPoint, h.cgroupPath), fdPath(fd), null, MS.BIND | MS.REC, null);
  } finally {
    close(fd);
  }
  // The fd above names the directory under the new mount; remount the mount itself.
  const mounted = ensureInRoot(rootFd, destination, 'dir');
  try {
    mount(null, fdPath(mounted), null, MS.BIND | MS.REMOUNT | flags, null);
  } finally {
    close(mounted);
  }
}

function linkInRoot(rootFd: number, dir: string, target: string, name: string): void {
  const dirFd = ensureInRoot(rootFd, dir, 'dir');
  try {
    symlinkat(target, dirFd, name);
  } catch {
    // already there (e.g. two hierarchies share a controller name): keep the first
  } finally {
    close(dirFd);
  }
}
