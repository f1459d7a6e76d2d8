// Which namespaces a container gets and how. Creating namespaces with
// clone3(2) works from Node's multithreaded process, but unshare(2)/setns(2)
// of a user namespace need a single-threaded caller, and a pid or time
// namespace entered with unshare/setns only applies to the caller's children
// (pid_namespaces(7), time_namespaces(7)). So: with nothing to join, every
// namespace is made at clone time; with something to join, the forked child
// joins, unshares, and forks once more so the init lands in the pid namespace.
import { closeSync, openSync, constants as fsc, readlinkSync, statSync } from 'node:fs';
import { OciError } from '../errors.js';
import type { Namespace, NamespaceType } from '../spec/types.js';
import { CLONE, SysError, setns, unshare } from '../sys/libc.js';

export const NAMESPACES: Record<NamespaceType, { flag: number; procName: string }> = {
  user: { flag: CLONE.NEWUSER, procName: 'user' },
  pid: { flag: CLONE.NEWPID, procName: 'pid' },
  network: { flag: CLONE.NEWNET, procName: 'net' },
  ipc: { flag: CLONE.NEWIPC, procName: 'ipc' },
  uts: { flag: CLONE.NEWUTS, procName: 'uts' },
  mount: { flag: CLONE.NEWNS, procName: 'mnt' },
  cgroup: { flag: CLONE.NEWCGROUP, procName: 'cgroup' },
  time: { flag: CLONE.NEWTIME, procName: 'time' },
};

// As root, joining the user namespace would drop the capabilities needed to
// join namespaces it does not own, so it comes after the others; the mount
// namespace comes last because joining it changes what paths mean.
const JOIN_ORDER: NamespaceType[] = ['ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'user', 'mount'];

export interface NamespaceJoin {
  type: NamespaceType;
  path: string;
  fd: number;
}

export interface NamespacePlan {
  /** Namespaces made by clone3 itself. */
  cloneFlags: number;
  /** Namespaces to join, in the kernel's order; fds opened by the parent. */
  joins: NamespaceJoin[];
  /** Namespaces the forked child creates with unshare after joining (cgroup excluded). */
  unshareFlags: number;
  newUser: boolean;
  /** In a user namespace other than the runtime's: created or joined. */
  inUser: boolean;
  /** Made only after the init is in its cgroups, so the namespace's root is the container's cgroup. */
  newCgroup: boolean;
  /** The forked child must fork again so the init is in the pid/time namespace it set up. */
  forkAgain: boolean;
  /** Types the container owns (created for it). */
  own: NamespaceType[];
}

export function planNamespaces(namespaces: Namespace[] = []): NamespacePlan {
  const own = namespaces.filter((ns) => !ns.path).map((ns) => ns.type);
  const joins = JOIN_ORDER.flatMap((type) => {
    const ns = namespaces.find((n) => n.type === type && n.path);
    return ns ? [{ type, path: ns.path!, fd: -1 }] : [];
  });
  const flagsOf = (types: NamespaceType[]) => types.reduce((acc, t) => acc | NAMESPACES[t].flag, 0);
  const created = own.filter((t) => t !== 'cgroup');
  const atClone = joins.length === 0;
  const joinsChildOnly = joins.some((j) => j.type === 'pid' || j.type === 'time');
  return {
    cloneFlags: atClone ? flagsOf(created) : 0,
    joins,
    unshareFlags: atClone ? 0 : flagsOf(created),
    newUser: own.includes('user'),
    inUser: namespaces.some((ns) => ns.type === 'user'),
    newCgroup: own.includes('cgroup'),
    forkAgain: !atClone && (joinsChildOnly || own.includes('pid') || own.includes('time')),
    own,
  };
}

/**
 * Opens every namespace path to join, checking that it is a namespace file of
 * the right type (runtime-spec config-linux.md: the runtime MUST error
 * otherwise). Fails before anything has been created.
 */
export function openJoins(plan: NamespacePlan): void {
  for (const join of plan.joins) {
    const expected = NAMESPACES[join.type].procName;
    let actual: string;
    try {
      statSync(join.path);
      actual = readlinkSync(`/proc/self/fd/${(join.fd = openSync(join.path, fsc.O_RDONLY))}`);
    } catch (err) {
      closeJoins(plan);
      throw new OciError('invalid-config', `config.json: /linux/namespaces: ${join.type} namespace path ${join.path}: ${(err as Error).message}`);
    }
    if (!actual.startsWith(`${expected}:[`)) {
      closeJoins(plan);
      const what = /^\w+:\[\d+\]$/.test(actual) ? `a ${actual.split(':')[0]} namespace` : 'not a namespace file';
      throw new OciError('invalid-config', `config.json: /linux/namespaces: ${join.type} namespace path ${join.path} is ${what}`);
    }
  }
}

export function closeJoins(plan: NamespacePlan): void {
  for (const join of plan.joins) {
    if (join.fd >= 0) closeSync(join.fd);
    join.fd = -1;
  }
}

/** In the forked, single-threaded child. */
export function joinNamespaces(plan: NamespacePlan): void {
  for (const join of plan.joins) {
    try {
      setns(join.fd, NAMESPACES[join.type].flag, join.path);
    } catch (err) {
      throw new Error(`joining ${join.type} namespace ${join.path}: ${err instanceof SysError ? err.message : String(err)}`);
    }
  }
}

export function unshareNamespaces(flags: number): void {
  if (flags !== 0) unshare(flags);
}
