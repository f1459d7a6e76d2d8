// Reading a container: its status, its public state, its processes.
import { currentStatus } from '../state/status.js';
import type { ContainerState, Store } from '../state/store.js';
import { isSameLiveProcess, namespaceId, pidsInPidNamespace } from '../sys/proc.js';

/** runtime-spec state as `state` prints it (runc adds rootfs, created, owner). */
export function publicState(store: Store, state: ContainerState) {
  const status = currentStatus(store, state);
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

/** Every process of the container: its pid namespace if it has its own, else just the init. */
export function containerPids(state: ContainerState): number[] {
  if (!isSameLiveProcess(state.pid, state.initStartTime)) return [];
  if (state.ownNamespaces.includes('pid')) {
    const ns = namespaceId(state.pid, 'pid');
    if (ns) return pidsInPidNamespace(ns);
  }
  return [state.pid];
}
