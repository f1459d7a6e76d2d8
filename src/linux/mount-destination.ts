// Where a mount of config.json may land. Destinations resolve inside the
// root (paths.ts), following the image's symlinks; what they may not do is
// land on procfs or sysfs, where a bind mount would replace a kernel file the
// container's processes and LSM policies trust (/proc/self/attr,
// /proc/sys/kernel/core_pattern: runc CVE-2019-16884, CVE-2023-27561,
// CVE-2023-28642), and proc and sysfs themselves go onto ordinary directories
// reached without any symlink.
import { fstatSync } from 'node:fs';
import path from 'node:path';
import type { Mount } from '../spec/types.js';
import { SysError, close, fstatfsType } from '../sys/libc.js';
import { ensureInRoot, lookupWithoutSymlinks } from './paths.js';
import { OciError } from '../errors.js';

const PROC_SUPER_MAGIC = 0x9fa0;
const SYSFS_MAGIC = 0x62656572;
const KERNEL_FS: Record<number, string> = { [PROC_SUPER_MAGIC]: 'procfs', [SYSFS_MAGIC]: 'sysfs' };

/**
 * The kernel files that tools like lxcfs cover with their own (runc allows
 * these on procfs): named by the destination itself, without a symlink on the way.
 */
const COVERABLE_FILES = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/sys/kernel/ns_last_pid',
  '/proc/sys/crypto/fips_enabled',
  '/sys/devices/system/cpu/online',
]);

/** An O_PATH fd of the mount's destination, created if missing; throws when the mount may not go there. */
export function openMountDestination(rootFd: number, m: Mount, leaf: 'dir' | 'file'): number {
  const destination = path.posix.normalize(`/${m.destination}`);
  const ownsKernelFs = m.type === 'proc' || m.type === 'sysfs';
  if (ownsKernelFs && reachedThroughSymlink(rootFd, destination)) {
    throw new OciError('container-init', `a ${m.type} mount goes onto a directory, not through a symlink of the container's`);
  }
  const fd = ensureInRoot(rootFd, destination, leaf);
  try {
    const onKernelFs = KERNEL_FS[fstatfsType(fd)];
    if (ownsKernelFs) {
      if (onKernelFs) throw new OciError('container-init', `its destination is on ${onKernelFs}: a ${m.type} mount goes onto an ordinary directory`);
      if (!fstatSync(fd).isDirectory()) throw new OciError('container-init', `its destination is not a directory`);
    } else if (onKernelFs && !mayCover(rootFd, fd, destination, onKernelFs)) {
      const via = reachedThroughSymlink(rootFd, destination) ? ", reached through a symlink of the container's" : '';
      throw new OciError('container-init', `its destination is on ${onKernelFs}${via}: refused`);
    }
    return fd;
  } catch (err) {
    close(fd);
    throw err;
  }
}

/**
 * The files of COVERABLE_FILES, and on sysfs directories (cgroup at
 * /sys/fs/cgroup, as every engine asks), each named without a symlink.
 */
function mayCover(rootFd: number, fd: number, destination: string, fs: string): boolean {
  if (reachedThroughSymlink(rootFd, destination)) return false;
  return COVERABLE_FILES.has(destination) || (fs === 'sysfs' && fstatSync(fd).isDirectory());
}

function reachedThroughSymlink(rootFd: number, destination: string): boolean {
  try {
    const fd = lookupWithoutSymlinks(rootFd, destination);
    if (fd !== null) close(fd);
    return false;
  } catch (err) {
    if (err instanceof SysError && (err.code === 'ELOOP' || err.code === 'EXDEV')) return true;
    throw err;
  }
}
