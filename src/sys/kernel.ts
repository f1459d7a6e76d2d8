// The system calls with which the init changes what the container is: its
// mounts, namespaces, device nodes, credentials, limits and names. Code that
// makes them takes a Kernel (the init's context carries it) rather than
// calling libc.ts itself, so that the order and arguments of those calls can
// be checked without privilege, against a recording stand-in. Resolving
// paths, opening and closing fds, and cloning stay direct calls: they are how
// the runtime finds what to change, not changes themselves.
import {
  capset,
  fchmodat,
  fchownat,
  fsCreateAndMount,
  fsconfigSet,
  fsopen,
  mknodat,
  mount,
  mountSetattr,
  moveMountFd,
  openTree,
  pivotRoot,
  prctl,
  prlimit,
  setdomainname,
  setgroups,
  sethostname,
  setns,
  setresgid,
  setresuid,
  symlinkat,
  umount2,
  unshare,
  chroot,
  type CapSets,
} from './libc.js';

export interface Kernel {
  // mount(2) and umount2(2), pivot_root(2), chroot(2)
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chroot(path: string): void;
  // the mount API: detached mounts (see linux/detached-mounts.ts)
  openTree(dirfd: number, path: string, flags: number): number;
  moveMountFd(fromFd: number, toFd: number): void;
  mountSetattr(fd: number, flags: number, attr: { set: number; clear: number; propagation?: number; usernsFd?: number }): void;
  fsopen(fsname: string, flags: number): number;
  fsconfigSet(fsfd: number, key: string, value: string | null): void;
  fsCreateAndMount(fsfd: number, attrs: number, subject: string): number;
  // namespaces
  setns(fd: number, nstype: number, subject?: string): void;
  unshare(flags: number): void;
  // files made in the container's /dev
  mknodat(dirfd: number, path: string, mode: number, dev: bigint): void;
  symlinkat(target: string, dirfd: number, path: string): void;
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void;
  fchmodat(dirfd: number, path: string, mode: number): void;
  // credentials, limits, names
  capset(sets: CapSets): void;
  prctl(option: number, a2?: number, a3?: number, a4?: number, a5?: number): number;
  setgroups(gids: number[]): void;
  setresgid(gid: number): void;
  setresuid(uid: number): void;
  prlimit(pid: number, resource: number, soft: bigint, hard: bigint, subject?: string): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;
}

/** The calls themselves, one property lookup away. */
export const hostKernel: Kernel = {
  mount,
  umount2,
  pivotRoot,
  chroot,
  openTree,
  moveMountFd,
  mountSetattr,
  fsopen,
  fsconfigSet,
  fsCreateAndMount,
  setns,
  unshare,
  mknodat,
  symlinkat,
  fchownat,
  fchmodat,
  capset,
  prctl,
  setgroups,
  setresgid,
  setresuid,
  prlimit,
  sethostname,
  setdomainname,
};
