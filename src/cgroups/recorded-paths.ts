// A container's cgroup from the paths recorded for it (in its state, or in
// cgroups.json before there is one): whether it is frozen, its processes, and
// removing it, as `state`, `list`, `kill` and `delete` need. Cheap on purpose:
// none of the drivers (v1.ts, v2.ts) is loaded for these.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { messageOf } from '../errors.js';
import { tryKill } from '../sys/libc.js';
import { sleepMs } from '../sys/proc.js';
import { procsRecursive, removeCgroupDirs, tryRead } from './files.js';

const isV2Only = (paths: Record<string, string>) => Object.keys(paths).length === 1 && paths[''] !== undefined;

/** True when the freezer (v1) or cgroup.freeze (v2) says the container is paused. */
export function isCgroupFrozen(paths: Record<string, string> | undefined): boolean {
  if (!paths) return false;
  if (paths.freezer) {
    const state = tryRead(paths.freezer, 'freezer.state');
    return state === 'FROZEN' || state === 'FREEZING';
  }
  if (isV2Only(paths)) return tryRead(paths[''], 'cgroup.freeze') === '1';
  return false;
}

/** Lets a paused container run again (e.g. so that SIGKILL takes effect); quiet when there is nothing to do. */
export function thawCgroup(paths: Record<string, string> | undefined): void {
  if (!paths || !isCgroupFrozen(paths)) return;
  try {
    if (paths.freezer) writeFileSync(path.join(paths.freezer, 'freezer.state'), 'THAWED');
    else writeFileSync(path.join(paths[''], 'cgroup.freeze'), '0');
  } catch {
    // gone meanwhile
  }
}

/**
 * SIGKILL to every process in a cgroup v2 container's cgroup and below, by the
 * kernel in one step through cgroup.kill (Linux 5.14, cgroup-v2.rst): no
 * process forked between reading cgroup.procs and signalling escapes. False
 * when there is no such file (an older kernel, or v1), for the caller to
 * signal the processes one by one.
 */
export function killCgroup(paths: Record<string, string> | undefined): boolean {
  if (!paths || !isV2Only(paths)) return false;
  try {
    writeFileSync(path.join(paths[''], 'cgroup.kill'), '1');
    return true;
  } catch {
    return false; // no cgroup.kill (ENOENT), or the cgroup is gone
  }
}

/**
 * Every process in the container's cgroup and the cgroups below it, or null
 * when the container has no cgroup of its own (or it is gone).
 */
export function cgroupPids(paths: Record<string, string> | undefined): number[] | null {
  if (!paths) return null;
  const dir = paths.pids ?? paths.freezer ?? paths.memory ?? paths[''] ?? Object.values(paths)[0];
  if (!dir || tryRead(dir, 'cgroup.procs') === null) return null;
  return procsRecursive(dir);
}

/**
 * Removes each of the container's cgroup directories once (sub-cgroups
 * first), as its driver's destroy() does; throws the first failure after
 * trying them all.
 */
export function removeCgroupPaths(paths: Record<string, string> | undefined): void {
  removeCgroupDirs(new Set(Object.values(paths ?? {})));
}

/** Beside state.json: the cgroup paths, written before the cgroup is made, for a delete that cannot read the state. */
const RECORD = 'cgroups.json';

export function recordPaths(containerDir: string, paths: Record<string, string>): void {
  writeFileSync(path.join(containerDir, RECORD), JSON.stringify(paths), { mode: 0o600 });
}

/**
 * Removes the cgroup recorded in a container's directory, killing what is
 * still in it: for a create that died before its state was written, or a
 * state that is damaged. Never throws (returns the problem instead).
 */
export function destroyRecorded(containerDir: string): string | null {
  let paths: unknown;
  try {
    paths = JSON.parse(readFileSync(path.join(containerDir, RECORD), 'utf8'));
  } catch {
    return null; // nothing recorded
  }
  if (typeof paths !== 'object' || paths === null || Object.values(paths).some((v) => typeof v !== 'string' || !v.startsWith('/'))) {
    return `${path.join(containerDir, RECORD)} is damaged: its cgroups are left as they are`;
  }
  const recorded = paths as Record<string, string>;
  const deadline = Date.now() + 10_000;
  for (let pids = cgroupPids(recorded); pids?.length && Date.now() < deadline; pids = cgroupPids(recorded)) {
    if (!killCgroup(recorded)) for (const pid of pids) tryKill(pid, 9);
    thawCgroup(recorded);
    sleepMs(5);
  }
  try {
    removeCgroupPaths(recorded);
    return null;
  } catch (err) {
    return messageOf(err);
  }
}
