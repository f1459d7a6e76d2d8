// What `state`, `list`, `kill` and `delete` need to know of a container's
// cgroup, from the paths in its state: whether it is frozen, its processes.
// Cheap on purpose: none of the drivers is loaded for these.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

const isV2Only = (paths: Record<string, string>) => Object.keys(paths).length === 1 && paths[''] !== undefined;

/** True when the freezer (v1) or cgroup.freeze (v2) says the container is paused. */
export function isCgroupFrozen(paths: Record<string, string> | undefined): boolean {
  if (!paths) return false;
  if (paths.freezer) {
    const state = read(path.join(paths.freezer, 'freezer.state'));
    return state === 'FROZEN' || state === 'FREEZING';
  }
  if (isV2Only(paths)) return read(path.join(paths[''], 'cgroup.freeze')) === '1';
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
 * Every process in the container's cgroup and the cgroups below it, or null
 * when the container has no cgroup of its own (or it is gone).
 */
export function cgroupPids(paths: Record<string, string> | undefined): number[] | null {
  if (!paths) return null;
  const dir = paths.pids ?? paths.freezer ?? paths.memory ?? paths[''] ?? Object.values(paths)[0];
  if (!dir || read(path.join(dir, 'cgroup.procs')) === null) return null;
  const pids = new Set<number>();
  const walk = (d: string) => {
    for (const line of (read(path.join(d, 'cgroup.procs')) ?? '').split('\n')) if (line) pids.add(Number(line));
    let subs: string[] = [];
    try {
      subs = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      // gone meanwhile
    }
    for (const sub of subs) walk(path.join(d, sub));
  };
  walk(dir);
  return [...pids].sort((a, b) => a - b);
}
