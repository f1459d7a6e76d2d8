// `events [--stats] [--interval 5s] ID`: runc's event stream, one JSON object
// per line. With --stats, one {"type":"stats",...} and exit; without, stats
// every interval and {"type":"oom","id":...} whenever the kernel's count of
// OOM kills in the container's cgroup grows, until the container stops.
import { managerFromPaths } from '../cgroups/index.js';
import { toJson } from '../cgroups/stats.js';
import { parseDuration } from './units.js';
import { OciError } from '../errors.js';
import type { Globals } from './globals.js';
import { LIVE, openContainer } from '../lifecycle/container.js';
import type { Store } from '../state/store.js';
import { storeFor, writeOut } from './options.js';

/** How often the OOM counter is read between stats. */
const OOM_POLL_MS = 100;

function stopped(store: Store, id: string): boolean {
  try {
    openContainer(store, id, { allow: LIVE });
    return false;
  } catch {
    return true; // stopped, or deleted
  }
}

export default async function events(globals: Globals, args: string[], o: Record<string, unknown>): Promise<number> {
  const [id] = args;
  const interval = parseDuration(String(o.interval ?? '5s'), '--interval');
  if (interval <= 0) throw new OciError('usage', '--interval: the duration must be greater than 0');
  const store = storeFor(globals);
  const { state } = openContainer(store, id, { allow: LIVE });
  const cgroups = managerFromPaths(state.cgroupPaths);
  if (!cgroups) throw new OciError('unsupported', `${id}: the container has no cgroup of its own`);
  const emit = (event: Record<string, unknown>) => writeOut(`${toJson(event)}\n`);
  const stats = () => emit({ type: 'stats', id, data: cgroups.stats() });
  if (o.stats) {
    stats();
    return 0;
  }
  let oomKills = cgroups.oomKillCount();
  let nextStats = Date.now() + interval;
  const checkOom = () => {
    const now = cgroups.oomKillCount();
    for (let i = oomKills; i < now && i < oomKills + 100; i++) emit({ type: 'oom', id });
    oomKills = Math.max(oomKills, now);
  };
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(OOM_POLL_MS, nextStats - Date.now()))));
    checkOom();
    if (stopped(store, id) || !cgroups.exists()) {
      checkOom();
      return 0;
    }
    if (Date.now() >= nextStats) {
      stats();
      nextStats += interval;
      if (nextStats < Date.now()) nextStats = Date.now() + interval;
    }
  }
}
