// exec: run another process in a running container. It joins every namespace
// of the container (through the init's /proc/<pid>/ns links) and its cgroups,
// and gets the process settings of the given process spec.
import { OciError, notRunning } from '../errors.js';
import type { CgroupPlacement } from '../cgroups/types.js';
import { statSync } from 'node:fs';
import path from 'node:path';
import { hostHierarchies, type MountableHierarchy } from '../linux/cgroup-mount.js';
import { namespacePath } from '../linux/namespaces.js';
import { joinIntelRdtForExec } from '../linux/intel-rdt.js';
import { prepareSecurity } from '../process/security.js';
import { spawnInit } from '../process/spawn.js';
import type { Process, Spec } from '../spec/types.js';
import type { ContainerState, Store } from '../state/store.js';
import { openContainer, requireStatus, type OpenContainer } from './container.js';

export interface ExecOptions {
  process: Process;
  consoleSocket?: string | { fd: number };
  preserveFds: number;
  /** --cgroup: controller → path under the container's cgroup ("" for every hierarchy). */
  subCgroups?: Map<string, string>;
}

/** Opens the container to exec in: one with a state, whatever its status (execInContainer checks it). */
export function openForExec(store: Store, id: string): OpenContainer {
  return openContainer(store, id, { withoutState: 'stopped' });
}

export function execInContainer(container: OpenContainer, opts: ExecOptions): { pid: number; state: ContainerState } {
  requireStatus(container, ['creating', 'created', 'running'], (id, status) =>
    status === 'paused' ? new OciError('wrong-state', `${id}: cannot exec in a paused container (resume it first)`) : notRunning(id),
  );
  const { state } = container;
  const config = state.config as Spec;
  const namespaces = (config.linux?.namespaces ?? []).map((ns) => ({
    type: ns.type,
    path: namespacePath(state.pid, ns.type),
  }));
  const security = prepareSecurity(config, opts.process, {
    mode: 'exec',
    id: container.id,
    bundle: state.bundle,
    annotations: config.annotations,
    processSource: { file: 'exec process', pointer: '' },
  });
  const { pid } = spawnInit({
    mode: 'exec',
    security,
    config,
    process: opts.process,
    bundle: state.bundle,
    rootfs: state.rootfs,
    namespaces,
    consoleSocket: opts.consoleSocket,
    preserveFds: opts.preserveFds,
    noPivot: false,
    sharedRootMountId: state.sharedRootMountId,
    onProcess: () => {},
    cgroups: cgroupsOf(state, opts.subCgroups ?? new Map()),
    beforeGo: (pid) => joinIntelRdtForExec(config, container.id, pid),
  });
  return { pid, state };
}

/**
 * Every cgroup the init is in (all v1 hierarchies, or the v2 one): where the
 * exec'd process goes, or the sub-cgroups of them that --cgroup names; it
 * joins the v1 memory one last (process/spawn.ts).
 */
function cgroupsOf(state: ContainerState, sub: Map<string, string>): CgroupPlacement {
  const { hierarchies } = hostHierarchies(state.pid);
  const memory = hierarchies.find((h) => h.fstype === 'cgroup' && controllersOf(h).includes('memory'));
  const base = (h: MountableHierarchy) => (h === memory ? (state.cgroupPaths?.memory ?? h.hostDir) : h.hostDir);
  const known = new Set(hierarchies.flatMap(controllersOf));
  for (const [controller, where] of sub) {
    if (controller !== '' && !known.has(controller)) {
      throw new OciError(
        'usage',
        `--cgroup ${controller}:${where}: unknown controller ${controller} (the container's are ${[...known].filter(Boolean).join(', ')})`,
      );
    }
  }
  const dirOf = (h: MountableHierarchy) => {
    const controller = controllersOf(h).find((c) => sub.has(c));
    const where = sub.get('') ?? (controller === undefined ? undefined : sub.get(controller));
    return where === undefined ? base(h) : subCgroupDir(base(h), where, controller ? `${controller}:${where}` : where);
  };
  const v1 = hierarchies.filter((h) => h.fstype === 'cgroup');
  const unified = hierarchies.find((h) => h.fstype === 'cgroup2');
  return {
    unified: unified && dirOf(unified),
    v1: v1.filter((h) => h !== memory).map(dirOf),
    memory: memory && dirOf(memory),
    field: sub.size > 0 ? `--cgroup ${[...sub].map(([c, p]) => (c ? `${c}:${p}` : p)).join(' ')}` : "joining the container's cgroup",
  };
}

/** The controllers of a hierarchy as --cgroup names them: "memory", "name=systemd"; "" for cgroup v2. */
function controllersOf(h: MountableHierarchy): string[] {
  return h.data === null ? [''] : h.data.split(',').filter((c) => c !== 'none');
}

/** An existing cgroup at or below `base` (runc: "bad sub cgroup path" for one outside it). */
function subCgroupDir(base: string, where: string, arg: string): string {
  const dir = path.posix.join(base, where);
  if (dir !== base && !dir.startsWith(`${base}/`)) {
    throw new OciError('usage', `--cgroup ${arg}: bad sub cgroup path: it is not under the container's cgroup ${base}`);
  }
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new OciError('usage', `--cgroup ${arg}: no such cgroup ${dir} (create it first)`);
  }
  return dir;
}
