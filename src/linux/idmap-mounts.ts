// Id-mapped mounts (config.md "Mounts": uidMappings/gidMappings, the idmap
// and ridmap options). A mount's mapping is written as a user namespace's
// maps would be, "containerID hostID size": a file the source's filesystem
// owns as containerID shows, through the mount, as hostID, an id of the
// host; a container with a user namespace of its own then sees that host id
// as its namespace maps it. With the container's own maps (what `idmap`
// without mappings means, and what containerd sends for Kubernetes pods with
// hostUsers: false), what root owns on the host is root's in the container.
// The same as runc and crun.
//
// The runtime makes these mounts, before the init exists: a detached copy
// of the source (bind-sources.ts), then mount_setattr(2) MOUNT_ATTR_IDMAP
// with a user namespace carrying the mapping, which needs privilege over the
// source's filesystem that the container's user namespace never has. The
// init attaches them like any bind source. Bind mounts only, as in runc.
import type { IdMapping, Mount, Spec } from '../spec/types.js';
import type { ConfigProblem } from '../spec/validate.js';
import { MOUNT_ATTR, O, SysError, close, open } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { OciError, wrap } from '../errors.js';
import { setAttributes } from './detached-mounts.js';
import { namespaceTypeOf } from './namespaces.js';
import { parseMountOptions, type ParsedMountOptions } from './mount-options.js';

/** The kernel's limit on the ranges of one map (user_namespaces(7), since Linux 4.15). */
const MAX_RANGES = 340;
/** An id range may not reach (u32)-1, the invalid id (kernel/user_namespace.c). */
const MAX_ID = 0xffffffff;

interface IdMapRequest {
  /** The mount's own mapping, or null for the container's user namespace. */
  maps: { uid: IdMapping[]; gid: IdMapping[] } | null;
  /** ridmap: the mapping applies to every mount below the source too. */
  recursive: boolean;
}

function requestOf(m: Mount, options: ParsedMountOptions): IdMapRequest | null {
  const hasMaps = !!m.uidMappings?.length || !!m.gidMappings?.length;
  const recursive = options.runtime.has('ridmap');
  if (!hasMaps && !recursive && !options.runtime.has('idmap')) return null;
  return { maps: hasMaps ? { uid: m.uidMappings ?? [], gid: m.gidMappings ?? [] } : null, recursive };
}

export function isIdMapped(m: Mount): boolean {
  return requestOf(m, parseMountOptions(m.options, m.type)) !== null;
}

export function hasIdMappedMounts(config: Spec): boolean {
  return (config.mounts ?? []).some(isIdMapped);
}

/** What create refuses before anything exists. */
export function checkIdMappedMounts(config: Spec): ConfigProblem[] {
  const userNamespace = config.linux?.namespaces?.some((ns) => ns.type === 'user') ?? false;
  return (config.mounts ?? []).flatMap((m, i) => {
    const options = parseMountOptions(m.options, m.type);
    const request = requestOf(m, options);
    if (!request) return [];
    const at = `/mounts/${i}`;
    const where = request.maps ? `${at}/uidMappings` : `${at}/options`;
    if (!options.isBind || m.type === 'cgroup' || m.type === 'cgroup2') {
      return [{ pointer: where, message: 'id-mapped mounts are bind mounts only ("bind" or "rbind" in options)' }];
    }
    if (process.geteuid?.() !== 0) return [{ pointer: where, message: 'id-mapped mounts need ocirun to run as root' }];
    if (!request.maps) {
      return userNamespace
        ? []
        : [
            {
              pointer: where,
              message: "idmap without uidMappings and gidMappings uses the container's user namespace, and the container has none (config.md, Mounts)",
            },
          ];
    }
    const problems: ConfigProblem[] = [];
    for (const field of ['uidMappings', 'gidMappings'] as const) {
      const other = field === 'uidMappings' ? 'gidMappings' : 'uidMappings';
      if (!m[field]?.length)
        problems.push({ pointer: `${at}/${field}`, message: `must map at least one id when ${other} does (config.md: one goes with the other)` });
      else problems.push(...rangeProblems(m[field], `${at}/${field}`));
    }
    return problems;
  });
}

/** What writing the ranges to uid_map/gid_map would be refused for, named by their pointers. */
function rangeProblems(ranges: IdMapping[], pointer: string): ConfigProblem[] {
  if (ranges.length > MAX_RANGES) return [{ pointer, message: `has ${ranges.length} ranges; the kernel takes at most ${MAX_RANGES}` }];
  const problems: ConfigProblem[] = [];
  ranges.forEach((r, i) => {
    for (const key of ['containerID', 'hostID'] as const) {
      if (r[key] + r.size > MAX_ID)
        problems.push({ pointer: `${pointer}/${i}`, message: `${key} ${r[key]} + size ${r.size} goes past the last id ${MAX_ID - 1}` });
    }
    for (let j = 0; j < i; j++) {
      for (const key of ['containerID', 'hostID'] as const) {
        const a = ranges[j];
        if (r[key] < a[key] + a.size && a[key] < r[key] + r.size) {
          problems.push({ pointer: `${pointer}/${i}`, message: `its ${key} range ${span(r[key], r.size)} overlaps ${pointer}/${j} (${span(a[key], a.size)})` });
        }
      }
    }
  });
  return problems;
}

const span = (first: number, size: number) => `${first}-${first + size - 1}`;

/** Makes a user namespace with these maps and returns its fd (the runtime's side: process/userns-holder.ts). */
export type UserNamespaceMaker = (uid: IdMapping[], gid: IdMapping[]) => number;

/**
 * The user namespaces the id-mapped mounts of one create use: one per
 * distinct mapping, made on first use. close() once every mount has its
 * mapping: a mount keeps its namespace alive by itself.
 */
export class IdMapNamespaces {
  private readonly byMapping = new Map<string, number>();

  constructor(
    private readonly kernel: Kernel,
    private readonly config: Spec,
    private readonly make: UserNamespaceMaker,
  ) {}

  /** Gives the detached copy `tree` of mounts[index] its mapping, if it asks for one. */
  apply(tree: number, m: Mount, index: number, options: ParsedMountOptions): void {
    const request = requestOf(m, options);
    if (!request) return;
    let userns: number;
    try {
      userns = this.namespaceFor(request);
    } catch (err) {
      throw wrap(err, `mounts[${index}]: the user namespace of its id mapping`);
    }
    try {
      setAttributes(this.kernel, tree, { set: MOUNT_ATTR.IDMAP, clear: 0, usernsFd: userns }, request.recursive);
    } catch (err) {
      // EINVAL: a filesystem without FS_ALLOW_IDMAP, on the source or (ridmap) a mount below it (mount_setattr(2)).
      if (err instanceof SysError && err.code === 'EINVAL') {
        const below = request.recursive ? ' (or a mount below it)' : '';
        throw new OciError(
          'unsupported',
          `mounts[${index}]: its source${below} is on a filesystem that does not support id-mapped mounts (mount_setattr MOUNT_ATTR_IDMAP: EINVAL)`,
          [],
          { cause: err },
        );
      }
      throw err;
    }
  }

  close(): void {
    for (const fd of this.byMapping.values()) close(fd);
    this.byMapping.clear();
  }

  private namespaceFor(request: IdMapRequest): number {
    const joined = request.maps ? undefined : this.config.linux?.namespaces?.find((ns) => ns.type === 'user')?.path;
    const maps = request.maps ?? { uid: this.config.linux?.uidMappings ?? [], gid: this.config.linux?.gidMappings ?? [] };
    const key =
      joined !== undefined ? `path ${joined}` : JSON.stringify([maps.uid, maps.gid].map((list) => list.map((r) => [r.containerID, r.hostID, r.size])));
    let fd = this.byMapping.get(key);
    if (fd === undefined) {
      fd = joined !== undefined ? openJoinedUserNamespace(joined) : this.make(maps.uid, maps.gid);
      this.byMapping.set(key, fd);
    }
    return fd;
  }
}

/** `idmap` without mappings in a container joining a user namespace: that namespace's maps. */
function openJoinedUserNamespace(nsPath: string): number {
  const fd = open(nsPath, O.RDONLY | O.CLOEXEC);
  if (namespaceTypeOf(fd) !== 'user') {
    close(fd);
    throw new OciError('invalid-config', `linux.namespaces: user namespace path ${nsPath} is not a user namespace`);
  }
  return fd;
}
