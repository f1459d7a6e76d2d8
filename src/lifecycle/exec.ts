// exec: run another process in a running container. It joins every namespace
// of the container (through the init's /proc/<pid>/ns links) and its cgroups,
// and gets the process settings of the given process spec.
import { OciError, notRunning } from '../errors.js';
import type { CgroupPlacement } from '../cgroups/types.js';
import { hostHierarchies } from '../linux/cgroup-mount.js';
import { namespacePath } from '../linux/namespaces.js';
import { prepareSecurity, releaseSecurity } from '../process/security.js';
import { spawnInit } from '../process/spawn.js';
import type { Process, Spec } from '../spec/types.js';
import { currentStatus } from '../state/status.js';
import type { ContainerState, Store } from '../state/store.js';

export interface ExecOptions {
  id: string;
  process: Process;
  consoleSocket?: string | { fd: number };
  preserveFds: number;
}

export function execInContainer(store: Store, opts: ExecOptions): { pid: number; state: ContainerState } {
  const state = store.read(opts.id);
  const status = currentStatus(store, state);
  if (state === null || status === 'stopped') throw notRunning(opts.id);
  if (status === 'paused') throw new OciError('wrong-state', `${opts.id}: cannot exec in a paused container (resume it first)`);
  const config = state.config as Spec;
  const namespaces = (config.linux?.namespaces ?? []).map((ns) => ({
    type: ns.type,
    path: namespacePath(state.pid, ns.type),
  }));
  const security = prepareSecurity(config, opts.process, {
    mode: 'exec',
    id: opts.id,
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
    privateFds: [],
    onProcess: () => {},
    cgroups: cgroupsOf(state),
  });
  releaseSecurity(security);
  return { pid, state };
}

/**
 * Every cgroup the init is in (all v1 hierarchies, or the v2 one): where the
 * exec'd process goes; it joins the v1 memory one last (process/spawn.ts).
 */
function cgroupsOf(state: ContainerState): CgroupPlacement {
  const { hierarchies } = hostHierarchies(state.pid);
  const v1 = hierarchies.filter((h) => h.fstype === 'cgroup');
  const memory = v1.find((h) => h.data?.split(',').includes('memory'));
  return {
    unified: hierarchies.find((h) => h.fstype === 'cgroup2')?.hostDir,
    v1: v1.filter((h) => h !== memory).map((h) => h.hostDir),
    memory: memory ? (state.cgroupPaths?.memory ?? memory.hostDir) : undefined,
    field: "joining the container's cgroup",
  };
}
