// kill (runtime-spec runtime.md "Kill").
import { thawCgroup } from '../cgroups/recorded-paths.js';
import { notRunning } from '../errors.js';
import { currentStatus } from '../state/status.js';
import type { Store } from '../state/store.js';
import { tryKill } from '../sys/libc.js';
import { containerPids } from './query.js';

export function signalContainer(store: Store, id: string, signal: number, all: boolean): void {
  const state = store.read(id);
  const status = currentStatus(store, state);
  if (state === null || status === 'stopped') throw notRunning(id);
  const targets = all ? containerPids(state) : [state.pid];
  for (const pid of targets) tryKill(pid, signal);
  // A frozen process cannot act on SIGKILL: let a paused container run so it dies (as runc does).
  if (signal === 9) thawCgroup(state.cgroupPaths);
}
