// Reading a container: its status, its public state, its processes.
import { cgroupPids } from '../cgroups/recorded-paths.js';
import type { Status } from '../state/status.js';
import type { ContainerState } from '../state/store.js';
import { isSameLiveProcess, namespaceId, pidsInPidNamespace } from '../sys/proc.js';

/** runtime-spec state as `state` prints it (runc adds rootfs, created, owner). */
export function publicState({ state, status }: { state: ContainerState; status: Status }) {
  return {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: status === 'stopped' ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    owner: state.owner,
    ...(state.annotations ? { annotations: state.annotations } : {}),
  };
}

/**
 * Every process of the container: those in its cgroup when it has one of its
 * own, and those in its pid namespace if it has its own (else the init): a
 * process that left the cgroup is still found.
 */
export function containerPids(state: ContainerState): number[] {
  const inCgroup = cgroupPids(state.cgroupPaths);
  if (inCgroup === null) return pidsOutsideCgroup(state);
  return [...new Set([...inCgroup, ...pidsOutsideCgroup(state)])].sort((a, b) => a - b);
}

function pidsOutsideCgroup(state: ContainerState): number[] {
  if (!isSameLiveProcess(state.pid, state.initStartTime)) return [];
  if (state.ownNamespaces.includes('pid')) {
    const ns = namespaceId(state.pid, 'pid');
    if (ns) return pidsInPidNamespace(ns);
  }
  return [state.pid];
}
