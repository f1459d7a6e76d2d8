// What runs against a container's cgroup after create: update (new limits,
// recorded in the state), pause and resume (the freezer), and statistics.
import { managerFromPaths, updateSystemdUnit, type CgroupManager, type LinuxResources } from '../cgroups/index.js';
import { validateResources } from '../cgroups/validate.js';
import { OciError } from '../errors.js';
import { warn } from '../log.js';
import type { Spec } from '../spec/types.js';
import type { ContainerState, Store } from '../state/store.js';
import { LIVE, openContainer, requireStatus, type OpenContainer } from './container.js';

interface Live extends OpenContainer {
  cgroups: CgroupManager;
}

/**
 * Under the container's lock: `fn` with the container, which exists, has not
 * stopped, and has a cgroup; else the error runc gives.
 */
function withLiveContainer<T>(store: Store, id: string, fn: (live: Live) => T): T {
  const container = openContainer(store, id, { lock: true, allow: LIVE });
  try {
    const cgroups = managerFromPaths(container.state.cgroupPaths);
    if (!cgroups || !cgroups.exists()) throw new OciError('unsupported', `${id}: the container has no cgroup of its own`);
    return fn({ ...container, cgroups });
  } finally {
    container.release();
  }
}

export function pauseContainer(store: Store, id: string): void {
  withLiveContainer(store, id, (container) => {
    requireStatus(container, ['running', 'created']);
    container.cgroups.freeze();
  });
}

export function resumeContainer(store: Store, id: string): void {
  withLiveContainer(store, id, (container) => {
    requireStatus(container, ['paused'], () => new OciError('wrong-state', `${id}: container not paused`));
    container.cgroups.thaw();
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The update applied on top of what was there: objects merge, lists and values replace. */
export function mergeResources(base: unknown, update: unknown): unknown {
  if (!isObject(base) || !isObject(update)) return update;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(update)) out[k] = v === undefined ? base[k] : mergeResources(base[k], v);
  return out;
}

/**
 * Changes the limits of a created, running or paused container and records
 * them in its state (config.linux.resources), as `runc update` does. Device
 * rules stay as they were: rewriting them would briefly deny every device.
 */
export function updateContainer(store: Store, id: string, resources: unknown): LinuxResources {
  return withLiveContainer(store, id, ({ state, cgroups }) => {
    validateResources(resources);
    const config = (state.config ?? {}) as Spec;
    const before = (config.linux?.resources ?? {}) as LinuxResources;
    const { devices, ...rest } = resources;
    if (devices !== undefined && JSON.stringify(devices) !== JSON.stringify(before.devices)) {
      warn(`${id}: linux.resources.devices cannot be changed by update; the device rules stay as they are`);
    }
    cgroups.set(rest, { update: true });
    const merged = mergeResources(before, rest) as LinuxResources;
    // systemd gets every property again, as runc does: a swap limit needs the memory limit beside it.
    if (state.systemdCgroup) updateSystemdUnit(cgroups, merged);
    const next: ContainerState = { ...state, config: { ...config, linux: { ...(config.linux ?? {}), resources: merged } } };
    store.write(next);
    return merged;
  });
}
