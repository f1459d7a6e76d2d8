// delete (runtime-spec runtime.md "Delete"): kill what is left, remove every trace.
import { destroyRecorded, killCgroup, removeCgroupPaths, thawCgroup } from '../cgroups/recorded-paths.js';
import { stopContainerUnit } from '../cgroups/systemd.js';
import { OciError } from '../errors.js';
import { warn } from '../log.js';
import { runHooksWarning, stateForHooks } from '../hooks/hooks.js';
import { leaveIntelRdt } from '../linux/intel-rdt.js';
import { releaseRecordedSharedRoot, releaseSharedRoot } from '../linux/shared-root.js';
import { hostKernel } from '../sys/kernel.js';
import type { Spec } from '../spec/types.js';
import type { ContainerState, Store } from '../state/store.js';
import { tryKill } from '../sys/libc.js';
import { processesHoldingFile, sleepMs } from '../sys/proc.js';
import { openRemains, type ContainerRemains, type OpenContainer } from './container.js';
import { containerPids } from './query.js';
import { checkMembers, unmarkMembership } from './share.js';

/** Kills everything left of the container and waits (bounded) for it to go. */
export function killAll(state: ContainerState): void {
  const deadline = Date.now() + 10_000;
  for (let delay = 1; ; delay = Math.min(delay * 2, 5)) {
    const pids = containerPids(state);
    if (pids.length === 0) return;
    if (!killCgroup(state.cgroupPaths)) for (const pid of pids) tryKill(pid, 9);
    thawCgroup(state.cgroupPaths); // frozen processes die only once thawed
    if (Date.now() > deadline) throw new OciError('system', `${state.id}: processes ${pids.join(' ')} did not die after SIGKILL`);
    sleepMs(delay); // a killed process is gone within a millisecond or two
  }
}

export function deleteContainer(store: Store, id: string, force: boolean): void {
  const remains = openRemains(store, id, { lock: true, damaged: force });
  try {
    destroy(store, remains, force);
  } finally {
    remains.release();
  }
}

/** delete, by a command that holds the lock of `container`: what is left of it, read again. */
export function deleteLocked(store: Store, container: OpenContainer, force: boolean): void {
  destroy(store, openRemains(store, container.id, { lock: false, damaged: force }), force);
}

function destroy(store: Store, { id, state, status }: ContainerRemains, force: boolean): void {
  if (state !== null) checkMembers(store, id, force);
  if (state !== null && (status === 'running' || status === 'paused') && !force) {
    throw new OciError('wrong-state', `${id}: cannot delete container that is not stopped: ${status} (use --force)`);
  }
  if (state !== null) killAll(state);
  // Without a readable state, an init still waiting for start is found by the FIFO it holds.
  else killFifoHolders(store.fifoPath(id));
  if (state?.sharedRootMountId !== undefined) releaseSharedRoot(hostKernel, state.rootfs, state.sharedRootMountId);
  else if (state === null) releaseRecordedSharedRoot(hostKernel, store.dir(id));
  // Then each cgroup directory goes (rmdir, retried, bounded, while the kernel still counts dead
  // tasks): those of the state, or without one, those the create recorded (and what is in them).
  if (state?.systemdCgroup) stopContainerUnit(state.cgroupPaths);
  if (state !== null) removeCgroupPaths(state.cgroupPaths);
  else {
    const problem = destroyRecorded(store.dir(id));
    if (problem) warn(problem);
  }
  if (state !== null) leaveIntelRdt(state.config as Spec, id);
  store.remove(id);
  if (state !== null) unmarkMembership(store, id, state.joined);
  // After the container is gone, before delete returns; a failure is only a warning (config.md "Poststop").
  if (state !== null) runHooksWarning('poststop', (state.config as Spec | null)?.hooks, stateForHooks(state, 'stopped', state.pid));
}

function killFifoHolders(fifo: string): void {
  const holders = processesHoldingFile(fifo);
  for (const pid of holders) tryKill(pid, 9);
}
