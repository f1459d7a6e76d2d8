// The host's cgroup hierarchies, read from /proc/self/mountinfo and
// /proc/self/cgroup (cgroups(7), proc(5)). Both texts can be passed in, so the
// layout logic runs in tests against a fake cgroupfs under a temp directory.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import { SysError, statfsType } from '../sys/libc.js';
import type { CgroupMode } from './types.js';
import { UNIFIED } from './types.js';

export interface Hierarchy {
  /** v1: controllers of the hierarchy, e.g. ["cpu", "cpuacct"], or ["name=systemd"]; v2: [] */
  controllers: string[];
  version: 1 | 2;
  mountPoint: string;
  /** The directory of the hierarchy that is mounted there ("/" unless a sub-tree is mounted). */
  mountRoot: string;
  /** The cgroup of the process that read /proc/self/cgroup, in this hierarchy. */
  ownCgroup: string;
}

export interface CgroupHost {
  mode: CgroupMode;
  hierarchies: Hierarchy[];
}

const V1_CONTROLLERS = new Set([
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'blkio',
  'pids',
  'hugetlb',
  'net_cls',
  'net_prio',
  'perf_event',
  'rdma',
  'misc',
]);

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Hierarchy key of a /proc/self/cgroup line: "" for v2, else the sorted controller list. */
function membership(procCgroup: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of procCgroup.split('\n')) {
    if (!line) continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    map.set(controllers.split(',').sort().join(','), line.slice(second + 1));
  }
  return map;
}

/**
 * The hierarchies mounted in this mount namespace, one per hierarchy (the
 * first mount of each, preferring mounts under /sys/fs/cgroup).
 */
export function parseHost(mountinfo: string, procCgroup: string): CgroupHost {
  const member = membership(procCgroup);
  const seen = new Map<string, Hierarchy>();
  for (const line of mountinfo.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 0) continue;
    const fstype = fields[sep + 1];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountRoot = unescape(fields[3]);
    const mountPoint = unescape(fields[4]);
    let h: Hierarchy;
    if (fstype === 'cgroup2') {
      h = { controllers: [], version: 2, mountPoint, mountRoot, ownCgroup: member.get('') ?? '/' };
    } else {
      const superOptions = (fields[sep + 3] ?? '').split(',');
      const controllers = superOptions.filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
      if (controllers.length === 0) continue;
      const key = [...controllers].sort().join(',');
      h = { controllers, version: 1, mountPoint, mountRoot, ownCgroup: member.get(key) ?? '/' };
    }
    const key = h.version === 2 ? UNIFIED : [...h.controllers].sort().join(',');
    const previous = seen.get(key);
    if (!previous || (!previous.mountPoint.startsWith('/sys/fs/cgroup') && mountPoint.startsWith('/sys/fs/cgroup'))) {
      seen.set(key, h);
    }
  }
  const hierarchies = [...seen.values()];
  const hasV1 = hierarchies.some((h) => h.version === 1 && !h.controllers.every((c) => c.startsWith('name=')));
  const hasV2 = hierarchies.some((h) => h.version === 2);
  if (!hasV1 && !hasV2) {
    throw new OciError('unsupported', "no cgroup filesystem is mounted (see /proc/self/mountinfo): cannot create the container's cgroups");
  }
  const mode: CgroupMode = hasV1 ? (hasV2 ? 'hybrid' : 'v1') : 'v2';
  return { mode, hierarchies: mode === 'v2' ? hierarchies.filter((h) => h.version === 2) : hierarchies };
}

let cached: CgroupHost | undefined;

/** This host's layout, from this process's view. */
export function detectHost(): CgroupHost {
  if (!cached) {
    cached = parseHost(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
    const magic = filesystemMagic('/sys/fs/cgroup');
    // The mount table decides; statfs of /sys/fs/cgroup confirms a pure v2 host.
    if (magic === CGROUP2_SUPER_MAGIC && cached.mode !== 'v2') cached = { ...cached, mode: 'v2' };
  }
  return cached;
}

/** Where cgroup `cgroupPath` (a path in the hierarchy, "/" its root) is on this host. */
export function directoryOf(h: Hierarchy, cgroupPath: string): string {
  const rel = path.posix.relative(h.mountRoot, cgroupPath);
  if (rel.startsWith('..')) {
    throw new OciError(
      'unsupported',
      `cgroup ${cgroupPath} is outside the part of the ${h.controllers.join(',') || 'cgroup2'} hierarchy mounted at ${h.mountPoint} (${h.mountRoot})`,
    );
  }
  return path.join(h.mountPoint, rel);
}

export const CGROUP2_SUPER_MAGIC = 0x63677270;
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const TMPFS_MAGIC = 0x01021994;

/** statfs(2) f_type of the filesystem holding `p`, or null when it cannot be read. */
export function filesystemMagic(p: string): number | null {
  try {
    return statfsType(p);
  } catch (err) {
    if (err instanceof SysError) return null;
    throw err;
  }
}
