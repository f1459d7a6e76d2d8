// Choosing a cgroup driver. A new container's cgroup is placed from its config
// (linux.cgroupsPath, --systemd-cgroup) and the host's layout; a container
// that exists is found again from the paths recorded in its state, never
// re-derived (a relative path depends on the caller's own cgroup).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { warn } from '../log.js';
import type { Spec } from '../spec/types.js';
import { effectiveRules, emulate } from './devices.js';
import { detectHost, type CgroupHost } from './host.js';
import { cleanCgroupsPath, resolvePaths, systemdCgroupPath, systemdUnit } from './paths.js';
import { setUnitResources, startScope, systemdIsRunning, unitOfCgroup } from './systemd.js';
import { UNIFIED, type CgroupManager, type LinuxResources } from './types.js';
import { V1Manager, type V1Dir } from './v1.js';
import { V2Manager } from './v2.js';
import { NoCgroups } from './none.js';
import { validateResources } from './validate.js';

export type { CgroupManager, LinuxResources } from './types.js';

export interface PlanOptions {
  /** --systemd-cgroup: cgroupsPath is "slice:prefix:name". */
  systemd?: boolean;
  /** The host layout (tests pass a fake one). */
  host?: CgroupHost;
}

/** A filesystem driver for the cgroup at `cgroupPath` (absolute, or relative to this process's cgroup) on `host`. */
export function fsManager(host: CgroupHost, cgroupPath: string): CgroupManager {
  const paths = resolvePaths(host, cgroupPath);
  if (host.mode === 'v2') {
    const h = host.hierarchies.find((x) => x.version === 2)!;
    return new V2Manager(paths[UNIFIED], h.mountPoint);
  }
  const dirs: V1Dir[] = host.hierarchies.map((h) => ({
    controllers: h.version === 2 ? [UNIFIED] : h.controllers,
    dir: paths[h.version === 2 ? UNIFIED : h.controllers[0]],
    mountPoint: h.mountPoint,
  }));
  return new V1Manager(dirs);
}

let warned = false;

/**
 * The systemd driver's cgroup: the path systemd gives the unit, managed
 * through the cgroup filesystem; with systemd as PID 1 the unit is then made
 * known to systemd (registerWithSystemd). Without, it says so once.
 */
export function systemdManager(host: CgroupHost, cgroupsPath: string | undefined, id: string): CgroupManager {
  const cgroupPath = systemdCgroupPath(cgroupsPath, id);
  if (!warned && !(host.mode === 'v2' && systemdIsRunning())) {
    warned = true;
    const why = existsSync('/run/systemd/system') ? 'ocirun talks to systemd only on a cgroup v2 host' : 'systemd is not running';
    warn(`--systemd-cgroup: ${why}; managing ${cgroupPath} through the cgroup filesystem instead`);
  }
  return fsManager(host, cgroupPath);
}

/**
 * With systemd as PID 1 on a cgroup v2 host: the container's cgroup, which the
 * init was cloned into, becomes a transient scope unit holding the init; the
 * resources are then written again, for what systemd has no property for and
 * for what it reset while starting the unit.
 */
export function registerWithSystemd(manager: CgroupManager, cgroupsPath: string | undefined, id: string, pid: number, resources: LinuxResources): void {
  if (manager.version !== 2 || !systemdIsRunning()) return;
  const { slice, unit } = systemdUnit(cgroupsPath, id);
  if (!unit.endsWith('.scope')) return;
  startScope(unit, slice, pid, resources);
  manager.set(resources, { update: true });
}

/** update of a container --systemd-cgroup placed: systemd's unit gets the new limits too. */
export function updateSystemdUnit(manager: CgroupManager, resources: LinuxResources): void {
  const unit = manager.version === 2 ? unitOfCgroup(manager.paths[UNIFIED]) : null;
  if (unit !== null && systemdIsRunning()) setUnitResources(unit, resources);
}

/**
 * The driver for a new container, after every check that needs no change to
 * the system: the values of linux.resources, the device rules, and whether
 * this host has the controllers they need. Throws an OciError naming the field.
 */
export function planCgroups(config: Spec, id: string, opts: PlanOptions = {}): { manager: CgroupManager; resources: LinuxResources } {
  const resources = (config.linux?.resources ?? {}) as unknown;
  validateResources(resources);
  emulate(effectiveRules(resources.devices), 'linux.resources.devices', resources.devices?.length ?? 0);
  const host = opts.host ?? (unprivileged() ? null : detectHost());
  const manager =
    host === null
      ? new NoCgroups()
      : opts.systemd
        ? systemdManager(host, config.linux?.cgroupsPath, id)
        : fsManager(host, cleanCgroupsPath(config.linux?.cgroupsPath, id));
  manager.check(resources);
  return { manager, resources };
}

function unprivileged(): boolean {
  return process.geteuid?.() !== 0;
}

/** The driver for the cgroup directories recorded in a container's state (runc's cgroup_paths). */
export function managerFromPaths(paths: Record<string, string> | undefined): CgroupManager | null {
  if (!paths || Object.keys(paths).length === 0) return null;
  const keys = Object.keys(paths);
  let host: CgroupHost | undefined;
  try {
    host = detectHost();
  } catch {
    host = undefined;
  }
  const mountPointOf = (dir: string): string => {
    const h = host?.hierarchies
      .filter((x) => dir === x.mountPoint || dir.startsWith(`${x.mountPoint}/`))
      .sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0];
    return h?.mountPoint ?? path.dirname(dir);
  };
  if (keys.length === 1 && keys[0] === UNIFIED) return new V2Manager(paths[UNIFIED], mountPointOf(paths[UNIFIED]));
  const byDir = new Map<string, string[]>();
  for (const [controller, dir] of Object.entries(paths)) byDir.set(dir, [...(byDir.get(dir) ?? []), controller]);
  return new V1Manager([...byDir].map(([dir, controllers]) => ({ controllers, dir, mountPoint: mountPointOf(dir) })));
}
