import { existsSync } from 'node:fs';
import { isCgroupFrozen } from '../cgroups/recorded-paths.js';
import { isSameLiveProcess } from '../sys/proc.js';
import type { Status } from './state-file.js';
import type { ContainerState, Store } from './store.js';

export type { Status } from './state-file.js';
/** The statuses runtime.md "State" defines, for what is handed to hooks and agents (runc's paused is not one). */
export type SpecStatus = Exclude<Status, 'paused'>;

/**
 * The status from the system, not only from the file: a container whose init
 * is gone (or whose pid now belongs to another process) is stopped; one whose
 * exec FIFO still exists has not been started.
 */
export function currentStatus(store: Store, state: ContainerState | null, isPaused?: () => boolean): Status {
  if (state === null) return 'stopped';
  // The FIFO first, the init second: delete kills the init before it removes
  // the FIFO, so a FIFO found gone with the init still alive means start, not
  // a delete that ran between the two looks (which read 'running').
  const unstarted = existsSync(store.fifoPath(state.id));
  if (!isSameLiveProcess(state.pid, state.initStartTime)) return 'stopped';
  if (state.status === 'creating') return 'creating';
  if (unstarted) return 'created';
  if (isPaused ? isPaused() : isCgroupFrozen(state.cgroupPaths)) return 'paused';
  return 'running';
}
