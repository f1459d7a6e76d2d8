// Which namespaces a container gets and how. Creating namespaces with
// clone3(2) works from Node's multithreaded process, but unshare(2)/setns(2)
// of a user namespace need a single-threaded caller, and a pid namespace
// entered with unshare/setns only applies to the caller's children
// (pid_namespaces(7)). So: with nothing to join, every namespace is made at
// clone time; with something to join, the forked child joins, unshares, and
// forks once more so the init lands in the pid namespace.
//
// A new time namespace is never made at clone time: its offsets can only be
// written before a process is in it (time_namespaces(7)), and clone3 puts the
// child in at once. The init unshares it, writes the offsets to
// /proc/self/timens_offsets, and execve(2) moves it in (Linux 5.11 and later).
import { closeSync, fstatSync, openSync, constants as fsc } from 'node:fs';
import { OciError, errnoOf, messageOf, wrap } from '../errors.js';
import type { IdMapping, Namespace, NamespaceType, Spec } from '../spec/types.js';
import { CLONE, PR, SysError, fstatfsType, ioctlResult, readlinkat } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { procfs } from './procfs.js';

export const NAMESPACES: Record<NamespaceType, { flag: number; procName: string }> = {
  user: { flag: CLONE.NEWUSER, procName: 'user' },
  pid: { flag: CLONE.NEWPID, procName: 'pid' },
  network: { flag: CLONE.NEWNET, procName: 'net' },
  ipc: { flag: CLONE.NEWIPC, procName: 'ipc' },
  uts: { flag: CLONE.NEWUTS, procName: 'uts' },
  mount: { flag: CLONE.NEWNS, procName: 'mnt' },
  cgroup: { flag: CLONE.NEWCGROUP, procName: 'cgroup' },
  // The init enters its new time namespace only at execve: until then
  // /proc/<pid>/ns/time is still the host's, time_for_children is the one.
  time: { flag: CLONE.NEWTIME, procName: 'time_for_children' },
};

/** /proc/<pid>/ns/<name> of a container's init, to join its namespace of this type. */
export function namespacePath(pid: number, type: NamespaceType): string {
  return `/proc/${pid}/ns/${NAMESPACES[type].procName}`;
}

const NSFS_MAGIC = 0x6e736673;
const NS_GET_USERNS = 0xb701;
const NS_GET_NSTYPE = 0xb703;

// The order of JOIN_ORDER applies within each step. As root, joining a user
// namespace drops the capabilities needed to join namespaces it does not own,
// so those are joined first; those it owns are joined after it (the only way
// for an unprivileged caller); the mount namespace comes last of its step,
// since joining it changes what paths mean.
const JOIN_ORDER: NamespaceType[] = ['ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'user', 'mount'];

export interface NamespaceJoin {
  type: NamespaceType;
  path: string;
  fd: number;
}

export interface NamespacePlan {
  /** Namespaces made by clone3 itself. */
  cloneFlags: number;
  /** Namespaces to join; openJoins puts them in the kernel's order and opens them. */
  joins: NamespaceJoin[];
  /** Namespaces the forked child creates with unshare after joining (cgroup and time excluded). */
  unshareFlags: number;
  newUser: boolean;
  /** In a user namespace other than the runtime's: created or joined. */
  inUser: boolean;
  /** Made only after the init is in its cgroups, so the namespace's root is the container's cgroup. */
  newCgroup: boolean;
  /** Made by the init itself; the text for /proc/self/timens_offsets ('' for none). */
  newTime: boolean;
  timeOffsets: string;
  /**
   * The runtime writes the id maps of a new user namespace without privilege:
   * it must deny setgroups first, and the child must stay dumpable until then
   * (a non-dumpable process's /proc files belong to root).
   */
  unprivilegedMaps: boolean;
  /** The forked child must fork again so the init is in the pid namespace it set up. */
  forkAgain: boolean;
  /** Types the container owns (created for it). */
  own: NamespaceType[];
}

export function planNamespaces(namespaces: Namespace[] = [], config?: Spec): NamespacePlan {
  const own = namespaces.filter((ns) => !ns.path).map((ns) => ns.type);
  const joins = JOIN_ORDER.flatMap((type) => {
    const ns = namespaces.find((n) => n.type === type && n.path);
    return ns ? [{ type, path: ns.path!, fd: -1 }] : [];
  });
  const flagsOf = (types: NamespaceType[]) => types.reduce((acc, t) => acc | NAMESPACES[t].flag, 0);
  const created = own.filter((t) => t !== 'cgroup' && t !== 'time');
  const atClone = joins.length === 0;
  const joinsPid = joins.some((j) => j.type === 'pid');
  return {
    cloneFlags: atClone ? flagsOf(created) : 0,
    joins,
    unshareFlags: atClone ? 0 : flagsOf(created),
    newUser: own.includes('user'),
    inUser: namespaces.some((ns) => ns.type === 'user'),
    newCgroup: own.includes('cgroup'),
    newTime: own.includes('time'),
    timeOffsets: own.includes('time') ? timeOffsetsText(config?.linux?.timeOffsets) : '',
    unprivilegedMaps: own.includes('user') && process.geteuid?.() !== 0,
    forkAgain: !atClone && (joinsPid || own.includes('pid')),
    own,
  };
}

/** time_namespaces(7): one "<clock> <secs> <nanosecs>" line per clock. */
function timeOffsetsText(offsets: Record<string, { secs?: number; nanosecs?: number }> = {}): string {
  return Object.entries(offsets)
    .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
    .join('');
}

/**
 * Opens every namespace path to join, checking that it is a namespace file of
 * the right type (runtime-spec config-linux.md: the runtime MUST error
 * otherwise), and puts the joins in the order the kernel needs. Fails before
 * anything has been created.
 */
export function openJoins(plan: NamespacePlan): void {
  try {
    for (const join of plan.joins) {
      const fail = (what: string, cause?: unknown) =>
        new OciError('invalid-config', `config.json: /linux/namespaces: ${join.type} namespace path ${join.path} ${what}`, [], { cause });
      try {
        join.fd = openSync(join.path, fsc.O_RDONLY);
      } catch (err) {
        throw fail(`cannot be opened: ${errnoOf(err) ?? messageOf(err)}`, err);
      }
      const actual = namespaceTypeOf(join.fd);
      if (actual === null) throw fail('is not a namespace file');
      if (actual !== join.type) throw fail(`is a ${NAMESPACES[actual].procName.replace('_for_children', '')} namespace`);
    }
    orderJoins(plan);
  } catch (err) {
    closeJoins(plan);
    throw err;
  }
}

/** The type of the namespace an fd refers to, or null when it is not a namespace file (ioctl_ns(2)). */
export function namespaceTypeOf(fd: number): NamespaceType | null {
  try {
    if (fstatfsType(fd) !== NSFS_MAGIC) return null;
    const flag = ioctlResult(fd, NS_GET_NSTYPE, 'NS_GET_NSTYPE');
    return (Object.keys(NAMESPACES) as NamespaceType[]).find((t) => NAMESPACES[t].flag === flag) ?? null;
  } catch {
    return null;
  }
}

function orderJoins(plan: NamespacePlan): void {
  const user = plan.joins.find((j) => j.type === 'user');
  // setns(2) into the user namespace one is already in fails with EINVAL: nothing to join.
  if (user && isOwnNamespace(user.fd, 'user')) {
    closeSync(user.fd);
    plan.joins = plan.joins.filter((j) => j !== user);
  }
  const joinedUser = plan.joins.find((j) => j.type === 'user');
  const step = (j: NamespaceJoin): number => {
    if (j.type === 'user') return 1;
    const afterUser = !joinedUser || ownedBy(j.fd, joinedUser.fd);
    return afterUser ? (j.type === 'mount' ? 3 : 2) : j.type === 'mount' ? 0.5 : 0;
  };
  const rank = new Map(plan.joins.map((j) => [j, step(j) * 100 + JOIN_ORDER.indexOf(j.type)]));
  plan.joins.sort((a, b) => rank.get(a)! - rank.get(b)!);
}

/**
 * True when `fd` is the namespace of `type` the runtime is in: the nsfs inode
 * its /proc/self/ns link names ("net:[4026531840]", namespaces(7)).
 */
export function isOwnNamespace(fd: number, type: NamespaceType): boolean {
  const proc = procfs();
  const link = readlinkat(proc.fd, `${proc.selfDir()}/ns/${NAMESPACES[type].procName}`);
  return link === `${NAMESPACES[type].procName}:[${fstatSync(fd, { bigint: true }).ino}]`;
}

/** True when the namespace behind `fd` is owned by the user namespace behind `userFd` (NS_GET_USERNS). */
function ownedBy(fd: number, userFd: number): boolean {
  let owner = -1;
  try {
    owner = ioctlResult(fd, NS_GET_USERNS, 'NS_GET_USERNS');
    const a = fstatSync(owner);
    const b = fstatSync(userFd);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    // EPERM: its owner is outside our user namespace; joining it will say so
    return false;
  } finally {
    if (owner >= 0) closeSync(owner);
  }
}

export function closeJoins(plan: NamespacePlan): void {
  for (const join of plan.joins) {
    if (join.fd >= 0) closeSync(join.fd);
    join.fd = -1;
  }
}

/** In the forked, single-threaded child. */
export function joinNamespaces(kernel: Kernel, plan: NamespacePlan): void {
  for (const join of plan.joins) {
    try {
      kernel.setns(join.fd, NAMESPACES[join.type].flag, join.path);
    } catch (err) {
      const hint = errnoOf(err) === 'EPERM' ? ' (not permitted: is it owned by a user namespace this runtime has no privilege in?)' : '';
      throw wrap(err, `joining ${join.type} namespace ${join.path}`, { hint });
    }
  }
}

export function unshareNamespaces(kernel: Kernel, flags: number): void {
  if (flags !== 0) kernel.unshare(flags);
}

/** In the init, before anything of the container can reach it: unless the id maps still have to be written by an unprivileged runtime. */
export function becomeUndumpable(kernel: Kernel, plan: NamespacePlan, mapsWritten: boolean): void {
  if (!plan.unprivilegedMaps || mapsWritten) kernel.prctl(PR.SET_DUMPABLE, 0);
}

/** In the init, as the user it runs as in its namespaces: the time namespace its execve enters. */
export function prepareTimeNamespace(kernel: Kernel, plan: NamespacePlan): void {
  if (!plan.newTime) return;
  kernel.unshare(CLONE.NEWTIME);
  if (!plan.timeOffsets) return;
  try {
    procfs().writeSelf('timens_offsets', plan.timeOffsets);
  } catch (err) {
    throw wrap(err, `linux.timeOffsets: writing ${JSON.stringify(plan.timeOffsets)} to /proc/self/timens_offsets`, { errnoOnly: true });
  }
}

/**
 * clone3 refused a new user namespace to an unprivileged caller: say why in
 * terms of the host's settings (user_namespaces(7): ENOSPC past
 * user.max_user_namespaces; EPERM where the host forbids them to unprivileged users).
 */
export function explainUserNamespaceRefusal(err: unknown, plan: NamespacePlan): unknown {
  if (!(err instanceof SysError) || !plan.newUser || process.geteuid?.() === 0) return err;
  if (err.code !== 'EPERM' && err.code !== 'ENOSPC' && err.code !== 'EACCES') return err;
  return new OciError(
    'container-init',
    `creating a user namespace as an unprivileged user: ${err.message}: this host forbids unprivileged user namespaces ` +
      '(see the sysctls user.max_user_namespaces and kernel.unprivileged_userns_clone, and any LSM policy restricting them)',
    [],
    { cause: err },
  );
}

/** uid_map/gid_map text: "containerID hostID size" per line, written in one write(2). */
export function mapText(mappings: IdMapping[] = []): string {
  return mappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/**
 * From the runtime, for the child `pid` it cloned into a new user namespace:
 * its uid_map and gid_map, each writable once (user_namespaces(7)). Without
 * privilege, setgroups must be denied first, and only one's own ids can be mapped.
 */
export function writeIdMaps(pid: number, config: Spec, unprivileged: boolean): void {
  const files = [
    ['uid_map', 'uidMappings', config.linux?.uidMappings],
    ['gid_map', 'gidMappings', config.linux?.gidMappings],
  ] as const;
  if (unprivileged) writeUserNamespaceFile(pid, 'setgroups', 'deny\n', 'denying setgroups in the user namespace');
  for (const [file, field, mappings] of files) {
    const hint = unprivileged
      ? `; without root, only your own ${file[0]}id (${file[0] === 'u' ? process.geteuid?.() : process.getegid?.()}) can be mapped, with size 1`
      : '';
    writeUserNamespaceFile(pid, file, mapText(mappings), `linux.${field} ${JSON.stringify(mappings ?? [])}: writing ${file} of the user namespace`, hint);
  }
}

/** /proc/<pid>/<file>, through the runtime's procfs handle (./procfs.ts); `hint` is added to an EPERM. */
function writeUserNamespaceFile(pid: number, file: string, text: string, what: string, hint = ''): void {
  try {
    procfs().write(`${pid}/${file}`, text);
  } catch (err) {
    throw wrap(err, what, { code: 'container-init', errnoOnly: true, hint: errnoOf(err) === 'EPERM' ? hint : '' });
  }
}
