// kill (runtime-spec runtime.md "Kill").
import { killCgroup, thawCgroup } from '../cgroups/recorded-paths.js';
import type { Store } from '../state/store.js';
import { tryKill } from '../sys/libc.js';
import { LIVE, openContainer } from './container.js';
import { containerPids } from './query.js';

export function signalContainer(store: Store, id: string, signal: number, all: boolean): void {
  const { state } = openContainer(store, id, { allow: LIVE, withoutState: 'stopped' });
  // SIGKILL to all at once by the kernel where it can (cgroup v2's cgroup.kill), else to each process found.
  const killedByKernel = all && signal === 9 && killCgroup(state.cgroupPaths);
  if (!killedByKernel) for (const pid of all ? containerPids(state) : [state.pid]) tryKill(pid, signal);
  // A frozen process cannot act on SIGKILL: let a paused container run so it dies (as runc does).
  if (signal === 9) thawCgroup(state.cgroupPaths);
}
