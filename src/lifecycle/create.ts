// create (runtime-spec runtime.md "Create"): validate the bundle, claim the
// id, spawn the init, and record the state.
import path from 'node:path';
import { planCgroups, registerWithSystemd, type CgroupManager } from '../cgroups/index.js';
import { recordPaths } from '../cgroups/recorded-paths.js';
import { messageOf, OciError } from '../errors.js';
import { warn } from '../log.js';
import { joinIntelRdt, leaveIntelRdt } from '../linux/intel-rdt.js';
import { moveNetDevices } from '../linux/net-devices.js';
import { configForInit, prepareSecurity } from '../process/security.js';
import { runHooks, runHooksWarning, stateForHooks } from '../hooks/hooks.js';
import { spawnInit } from '../process/spawn.js';
import { prepareNotifySocket } from './notify.js';
import { bindSharedRoot, releaseSharedRoot, sharesRuntimeMountNamespace } from '../linux/shared-root.js';
import { hostKernel } from '../sys/kernel.js';
import { listenFdCount } from '../process/fds.js';
import { detectHost } from '../cgroups/host.js';
import { containerHierarchies } from '../linux/cgroup-mount.js';
import type { Process } from '../spec/types.js';
import { SPEC_VERSION } from '../spec/default-spec.js';
import { loadBundle, type Bundle } from '../spec/load.js';
import { joinedContainers, markMembership, prepareShares, type ShareRequest } from './share.js';
import type { ContainerState, Store } from '../state/store.js';
import { fromState, type OpenContainer } from './container.js';
import { mkfifo, tryKill } from '../sys/libc.js';
import { replaceFile } from '../sys/caller-paths.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  /** A socket path, or (run attaching the terminal itself) one end of a socketpair. */
  consoleSocket?: string | { fd: number };
  noPivot: boolean;
  noNewKeyring: boolean;
  preserveFds: number;
  /** --systemd-cgroup: linux.cgroupsPath is "slice:prefix:name". */
  systemdCgroup?: boolean;
  /** ocirun's --share: namespaces to take from other containers under the same root. */
  share?: ShareRequest[];
}

/**
 * Creates the container and leaves its init waiting for `start`. Returns it
 * with the lock still held, so that `run` can go on to start it
 * (start.ts: startLocked) with no other command in between; the caller releases it.
 */
export function createContainer(store: Store, opts: CreateOptions): OpenContainer {
  const shares = opts.share?.length ? prepareShares(store, opts.share) : null;
  try {
    return createWith(store, opts, loadBundle(opts.bundle, shares?.rewrite));
  } finally {
    shares?.release();
  }
}

function createWith(store: Store, opts: CreateOptions, bundle: Bundle): OpenContainer {
  const { config } = bundle;
  if (config.process?.terminal && !opts.consoleSocket) {
    throw new OciError('usage', 'process.terminal is true: pass --console-socket, or set process.terminal to false');
  }
  // seccomp, LSM labels, scheduler...: checked and compiled before anything exists.
  // config.md: process is REQUIRED only "when start is called"; start refuses a container without one.
  const security = prepareSecurity(config, config.process ?? { cwd: '/' }, {
    mode: 'create',
    id: opts.id,
    bundle: bundle.dir,
    annotations: config.annotations,
  });
  // The cgroup's place and linux.resources, checked against this host before anything exists.
  const { manager: cgroups, resources } = planCgroups(config, opts.id, { systemd: opts.systemdCgroup });
  const lock = store.claim(opts.id);
  let sharedRootMountId: number | undefined;
  try {
    const fifoPath = store.fifoPath(opts.id);
    mkfifo(fifoPath, 0o600);
    mkfifo(store.statusFifoPath(opts.id), 0o600);
    if (sharesRuntimeMountNamespace(config)) sharedRootMountId = bindSharedRoot(hostKernel, config, bundle.rootfs, store.dir(opts.id));
    const notify = prepareNotifySocket(store, opts.id, config);
    const base = {
      ociVersion: SPEC_VERSION,
      id: opts.id,
      bundle: bundle.dir,
      annotations: config.annotations,
      rootfs: bundle.rootfs,
      created: new Date().toISOString(),
      owner: '',
      config,
      cgroupPaths: cgroups.paths,
      systemdCgroup: opts.systemdCgroup || undefined,
      joined: joinedContainers(store, opts.id, config.linux?.namespaces),
      sharedRootMountId,
      notifySocket: notify.notifySocket,
    };
    // Limits are in force before the init runs anything: it is placed in the cgroup right after the clone.
    recordPaths(store.dir(opts.id), cgroups.paths); // for a delete that finds no readable state
    cgroups.create();
    cgroups.set(resources);
    const initConfig = configForInit(notify.config);
    const activation = initConfig.process ? socketActivation(initConfig.process, opts.preserveFds) : { process: undefined, preserveFds: opts.preserveFds };
    const netDevices = onceForInit((pid) => moveNetDevices(config, pid));
    const init = spawnCatchingOom(cgroups, () =>
      spawnInit({
        mode: 'create',
        config: initConfig,
        process: activation.process,
        namespaces: config.linux?.namespaces ?? [],
        consoleSocket: opts.consoleSocket,
        sessionKeyring: opts.noNewKeyring ? undefined : `_ses.${opts.id}`,
        bundle: bundle.dir,
        rootfs: bundle.rootfs,
        fifoPath,
        statusFifoPath: store.statusFifoPath(opts.id),
        preserveFds: activation.preserveFds,
        noPivot: opts.noPivot,
        security,
        onProcess: (pid, initStartTime, ownNamespaces) => store.write({ ...base, status: 'creating', pid, initStartTime, ownNamespaces }),
        cgroups: cgroups.placement(),
        cgroupHierarchies: Object.keys(cgroups.paths).length > 0 ? containerHierarchies(detectHost(), cgroups.paths) : undefined,
        runtimeHooks: (pid) => {
          netDevices(pid); // before the hooks, which may configure them
          // runtime.md "State": `creating` is lifecycle step 2; these hooks are steps 3-5, after it.
          const hookState = stateForHooks(base, 'created', pid);
          runHooks('prestart', config.hooks, hookState);
          runHooks('createRuntime', config.hooks, hookState);
          return hookState;
        },
      }),
    );
    const state: ContainerState = {
      ...base,
      status: 'created',
      pid: init.pid,
      initStartTime: init.startTime,
      ownNamespaces: init.ownNamespaces,
    };
    try {
      if (opts.systemdCgroup) registerWithSystemd(cgroups, config.linux?.cgroupsPath, opts.id, init.pid, resources);
      netDevices(init.pid);
      joinIntelRdt(config, opts.id, init.pid);
      store.write(state);
      markMembership(store, opts.id, state.joined ?? []);
      if (opts.pidFile) writePidFile(opts.pidFile, init.pid);
    } catch (err) {
      tryKill(init.pid, 9);
      leaveIntelRdt(config, opts.id);
      throw err;
    }
    return fromState(store, state, lock);
  } catch (err) {
    if (sharedRootMountId !== undefined) releaseSharedRoot(hostKernel, bundle.rootfs, sharedRootMountId);
    removeCreatedCgroups(cgroups);
    store.remove(opts.id);
    lock.release();
    // A failed create hook stops the container and goes on to its end (runtime.md "Lifecycle", steps 12-13).
    if (err instanceof OciError && err.code === 'hook-failed') {
      runHooksWarning('poststop', config.hooks, stateForHooks({ id: opts.id, bundle: bundle.dir, annotations: config.annotations }, 'stopped'));
    }
    throw err;
  }
}

/** `step` for the init's pid, the first time only. */
function onceForInit(step: (pid: number) => void): (pid: number) => void {
  let done = false;
  return (pid) => {
    if (done) return;
    done = true;
    step(pid);
  };
}

/** A failed create leaves no cgroup behind (only those it made: a cgroup it found stays). */
function removeCreatedCgroups(cgroups: CgroupManager): void {
  try {
    cgroups.destroy({ onlyCreated: true });
  } catch (err) {
    // The create's own error is the one to report; this one only as a warning.
    warn(messageOf(err));
  }
}

/** An init the OOM killer stopped during setup: say that, and what the limit was. */
function spawnCatchingOom<T>(cgroups: CgroupManager, spawn: () => T): T {
  try {
    return spawn();
  } catch (err) {
    if (err instanceof OciError && err.code === 'container-init' && cgroups.oomKillCount() > 0) {
      const limit = cgroups.stats().memory.usage.limit;
      throw new OciError(
        'container-init',
        `the container's init was killed by the OOM killer while setting up the container: linux.resources.memory.limit (${String(limit)} bytes) ` +
          'is too low for it (see README "Cgroups")',
      );
    }
    throw err;
  }
}

/** runc's format, which containerd reads: the bare number, no newline, renamed into place. */
export function writePidFile(file: string, pid: number): void {
  replaceFile(path.resolve(file), String(pid), 0o644);
}

/**
 * systemd socket activation (sd_listen_fds(3)), as runc does: with LISTEN_FDS
 * for this process, fds 3.. are the listening sockets; they are passed on
 * ahead of the --preserve-fds ones, and the container's init (pid 1 of its
 * namespace) is told so through its own LISTEN_FDS and LISTEN_PID.
 */
export function socketActivation(processSpec: Process, preserveFds: number): { process: Process; preserveFds: number } {
  const listenFds = listenFdCount();
  if (listenFds === 0) return { process: processSpec, preserveFds };
  const env = (processSpec.env ?? []).filter((e) => !e.startsWith('LISTEN_FDS=') && !e.startsWith('LISTEN_PID='));
  return {
    process: { ...processSpec, env: [...env, `LISTEN_FDS=${listenFds}`, 'LISTEN_PID=1'] },
    preserveFds: listenFds + preserveFds,
  };
}
