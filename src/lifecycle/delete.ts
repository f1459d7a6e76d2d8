// delete (runtime-spec runtime.md "Delete"): kill what is left, remove every trace.
import { OciError } from '../errors.js';
import { currentStatus } from '../state/status.js';
import type { ContainerState, Store } from '../state/store.js';
import { tryKill } from '../sys/libc.js';
import { processesHoldingFile } from '../sys/proc.js';
import { containerPids } from './query.js';

/** Kills everything left of the container and waits (bounded) for it to go. */
export function killAll(state: ContainerState): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = containerPids(state);
    if (pids.length === 0) return;
    for (const pid of pids) tryKill(pid, 9);
    if (Date.now() > deadline) throw new OciError('system', `${state.id}: processes ${pids.join(' ')} did not die after SIGKILL`);
    sleepMs(5);
  }
}

export function deleteContainer(store: Store, id: string, force: boolean): void {
  const lock = store.lock(id);
  try {
    let state: ContainerState | null;
    try {
      state = store.read(id);
    } catch (err) {
      if (!(err instanceof OciError && err.code === 'state-corrupt') || !force) throw err;
      state = null;
    }
    const status = currentStatus(store, state);
    if (state !== null && (status === 'running' || status === 'paused') && !force) {
      throw new OciError('wrong-state', `${id}: cannot delete container that is not stopped: ${status} (use --force)`);
    }
    if (state !== null) killAll(state);
    // Without a readable state, an init still waiting for start is found by the FIFO it holds.
    else killFifoHolders(store.fifoPath(id));
    store.remove(id);
  } finally {
    lock.release();
  }
}

function killFifoHolders(fifo: string): void {
  const holders = processesHoldingFile(fifo);
  for (const pid of holders) tryKill(pid, 9);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
