// The runtime's side of creating a container's init: clone3 with the
// namespaces, write the id maps, answer the init's requests, and come back
// with the init's pid once it waits on the exec FIFO. On any failure the init
// is killed before the error is thrown, so nothing is left running.
import { OciError, wrap } from '../errors.js';
import type { Namespace, Process, Spec } from '../spec/types.js';
import { CLONE, O, WNOHANG, close, connectUnix, open, tryKill, waitpid } from '../sys/libc.js';
import { readProcStat, sleepMs } from '../sys/proc.js';
import { closeJoins, explainUserNamespaceRefusal, openJoins, planNamespaces, writeIdMaps, type NamespacePlan } from '../linux/namespaces.js';
import { withGrantableCapabilities } from '../linux/capabilities.js';
import { refuseSysctlsInRuntimeNamespaces } from '../linux/sysctl.js';
import { openBindSources, type BindSources } from '../linux/bind-sources.js';
import { hostKernel } from '../sys/kernel.js';
import { hasIdMappedMounts } from '../linux/idmap-mounts.js';
import { userNamespaceWithMaps } from './userns-holder.js';
import { Channel } from './channel.js';
import { forkProcess } from './forkable.js';
import { runInit } from './init.js';
import { prepareSealedExe, type SealedExe } from './sealed-exe.js';
import { environmentBlock } from './runtime-environment.js';
import type { HookState } from '../hooks/hooks.js';
import type { CgroupPlacement } from '../cgroups/types.js';
import type { MountableHierarchies } from '../linux/cgroup-mount.js';
import { writeFile } from '../cgroups/files.js';
import { relayNotifyFd, type SecurityPlan } from './security.js';
import { cloneWithInitialAffinity } from '../linux/cpu-affinity.js';

export interface SpawnOptions {
  mode: 'create' | 'exec';
  config: Spec;
  /** The process to run; for create, config.process (absent: the init sets the container up and never runs anything). */
  process: Process | undefined;
  bundle: string;
  rootfs: string;
  /** create: the exec FIFO the init blocks on until start. */
  fifoPath?: string;
  /** create: the FIFO the init holds open for writing until it execs (see start). */
  statusFifoPath?: string;
  /** Namespaces to create or join; exec passes the container's as paths. */
  namespaces: Namespace[];
  /**
   * With process.terminal: where the pty master goes — a socket path (runc's
   * --console-socket), or one end of a socketpair when ocirun itself attaches.
   */
  consoleSocket?: string | { fd: number };
  preserveFds: number;
  noPivot: boolean;
  /** create: name of the container's own session keyring (none with --no-new-keyring). */
  sessionKeyring?: string;
  /**
   * Called for each process that delete must be able to find if this
   * runtime process dies mid-way: the cloned child (once it was told to go
   * on), then the init.
   */
  onProcess(pid: number, startTime: number, ownNamespaces: string[]): void;
  /**
   * The container's cgroups. The cloned child is in them before it runs any
   * of the container's setup (a second fork inherits them), so the cgroup
   * namespace it creates is rooted at the container's cgroup.
   */
  cgroups?: CgroupPlacement;
  /**
   * create, with hooks: the init's mounts are done and it has not pivoted yet.
   * Runs the runtime-side hooks and returns the state for the init's own hooks.
   */
  runtimeHooks?(initPid: number): HookState;
  /** create: what a cgroup mount in the container shows. */
  cgroupHierarchies?: MountableHierarchies;
  /** exec into a container without a mount namespace: the bind mount of its root, to chroot into (linux/shared-root.ts). */
  sharedRootMountId?: number;
  /** seccomp and the rest, prepared by prepareSecurity before the clone. */
  security?: SecurityPlan;
  /** Called with the cloned child before it is told to go on (e.g. to put it in a resctrl group its children inherit). */
  beforeGo?(pid: number): void;
}

export interface SpawnedInit {
  pid: number;
  startTime: number;
  ownNamespaces: string[];
}

/** The cloned child crashed (SIGSEGV/SIGBUS) before it said anything: nothing was set up yet. */
class CrashedBeforeStart extends Error {}

/**
 * Spawns the init. A child that crashes on its very first steps (a V8 heap
 * page the fork did not copy: rare, seen about once in a few hundred creates
 * under load) has done nothing yet, so it is simply cloned again, twice at
 * most. Not with a terminal: the console socket's peer takes one connection.
 */
export function spawnInit(spawnOptions: SpawnOptions): SpawnedInit {
  const inUserNamespace = spawnOptions.namespaces.some((ns) => ns.type === 'user');
  const opts = { ...spawnOptions, process: spawnOptions.process && withGrantableCapabilities(spawnOptions.process, inUserNamespace) };
  for (let attempt = 0; ; attempt++) {
    try {
      return spawnOnce(opts);
    } catch (err) {
      if (!(err instanceof CrashedBeforeStart) || attempt >= 2 || opts.process?.terminal) {
        throw err instanceof CrashedBeforeStart ? wrap(err, 'container init', { code: 'container-init' }) : err;
      }
    }
  }
}

function spawnOnce(opts: SpawnOptions): SpawnedInit {
  const runtimeEnvironment = environmentBlock();
  const namespaces = planNamespaces(opts.namespaces, opts.config);
  openJoins(namespaces);
  try {
    if (opts.mode === 'create') refuseSysctlsInRuntimeNamespaces(namespaces, opts.config.linux?.sysctl);
  } catch (err) {
    closeJoins(namespaces);
    throw err;
  }
  const fds: number[] = [];
  const [parent, child] = Channel.pair();
  let pid: number;
  let fifoFd = -1;
  let statusFd = -1;
  let consoleSocketFd = -1;
  let sealedExe: SealedExe | null = null;
  const placement = placeAtClone(opts.cgroups, namespaces.cloneFlags, namespaces.newCgroup);
  let bindSources: BindSources | undefined;
  try {
    bindSources = openBindSourcesFor(opts, namespaces);
    fds.push(...bindSources.values());
    if (opts.fifoPath) fds.push((fifoFd = open(opts.fifoPath, O.RDWR | O.CLOEXEC)));
    if (opts.statusFifoPath) fds.push((statusFd = open(opts.statusFifoPath, O.RDWR | O.CLOEXEC)));
    if (opts.process?.terminal) fds.push((consoleSocketFd = connectConsoleSocket(opts.consoleSocket)));
    if ((sealedExe = prepareSealedExe())) fds.push(sealedExe.fd);
    pid = cloneWithInitialAffinity(opts.mode, opts.process, () => forkIntoCgroup(namespaces.cloneFlags, placement, fds));
  } catch (err) {
    err = explainUserNamespaceRefusal(err, namespaces);
    for (const ch of [parent, child]) ch.close();
    for (const fd of fds) close(fd);
    closeJoins(namespaces);
    throw err;
  }
  if (pid === 0) {
    runInit({
      kernel: hostKernel,
      mode: opts.mode,
      config: opts.config,
      process: opts.process,
      bundle: opts.bundle,
      rootfs: opts.rootfs,
      namespaces,
      channel: child,
      sessionKeyring: opts.sessionKeyring,
      fifoFd,
      statusFd,
      consoleSocketFd,
      sealedExe,
      runtimeEnvironment,
      preserveFds: opts.preserveFds,
      noPivot: opts.noPivot,
      sharedRootMountId: opts.sharedRootMountId,
      security: opts.security,
      cgroupHierarchies: opts.cgroupHierarchies,
      bindSources,
      ownCgroups: { dirs: placement.byChild, memory: placement.memoryByChild, field: placement.field },
    });
  }
  child.close();
  for (const fd of fds) close(fd);
  closeJoins(namespaces);

  let initPid = pid;
  let heard = false;
  try {
    if (namespaces.cloneFlags & CLONE.NEWUSER) writeIdMaps(pid, opts.config, namespaces.unprivilegedMaps);
    for (const dir of placement.byParent) writeFile(dir, 'cgroup.procs', String(pid), placement.field);
    opts.beforeGo?.(pid);
    parent.send({ type: 'go' });
    // Recorded while the child sets up (each side pays for the pages it
    // touches after the clone). Should this process die before, delete
    // still finds the child by the exec FIFO it holds, and its cgroups by
    // the paths recorded before the clone.
    opts.onProcess(pid, startTimeOf(pid), namespaces.own);
    // With a second fork, the init may report 'ready' before its parent has
    // reported the init's pid: wait for both.
    let ready = false;
    let initKnown = !namespaces.forkAgain;
    // The init (after a second fork) may ask for its hooks before its parent has told us its pid.
    let hooksWanted = false;
    while (!(ready && initKnown)) {
      const message = parent.receive();
      if (message === null) throw initDied(initPid, pid);
      heard = true;
      if (message.type === 'ready') ready = true;
      else if (message.type === 'error') throw new OciError(message.code, message.message);
      else if (message.type === 'hooks') hooksWanted = true;
      else if (message.type === 'need-maps') {
        writeIdMaps(pid, opts.config, namespaces.unprivilegedMaps);
        parent.send({ type: 'ok' });
      } else if (message.type === 'init-pid') {
        initPid = message.pid;
        initKnown = true;
        // An exec'd process may be done (and reaped) by now; an init waits for start.
        const startTime = readProcStat(initPid)?.startTime ?? (opts.mode === 'exec' ? 0 : startTimeOf(initPid));
        opts.onProcess(initPid, startTime, namespaces.own);
        waitpid(pid);
      } else if (message.type === 'seccomp-notify-fd') {
        relayNotifyFd(opts.security, parent.fd, initPid);
      }
      if (hooksWanted && initKnown) {
        hooksWanted = false;
        if (!opts.runtimeHooks) throw new OciError('internal', 'protocol error: the init asked for hooks that create did not give');
        parent.send({ type: 'hooks-done', state: opts.runtimeHooks(initPid) });
      }
    }
  } catch (err) {
    const crash = heard ? 0 : crashSignal(pid);
    killAndReap(initPid, pid);
    if (crash) throw new CrashedBeforeStart(`the cloned child was killed by signal ${crash} before it started`);
    throw err;
  } finally {
    parent.close();
  }
  const stat = readProcStat(initPid);
  // An exec'd process may already have run and been reaped by a subreaper
  // (containerd's shim): that is its result, not a failure to start it.
  if (stat === null && opts.mode === 'create') throw initDied(initPid, pid);
  return { pid: initPid, startTime: stat?.startTime ?? 0, ownNamespaces: namespaces.own };
}

/**
 * The runtime opens the bind sources of a container with a mount namespace
 * of its own in a user namespace other than the host's, created or joined,
 * when it may (as root): they are then found as it sees them, whatever the
 * user namespace lets the init reach, and locked (bind-sources.ts), as the
 * container's root owns that mount namespace. Otherwise the init, with the
 * runtime's credentials or in the mount namespace it joined, opens each right
 * before it attaches it. That keeps the mounts' ids in the order of
 * config.mounts, the order /proc/self/mountinfo lists them in since Linux 6.8
 * (and which the OCI conformance suite checks there).
 */
function openBindSourcesFor(opts: SpawnOptions, namespaces: NamespacePlan): BindSources {
  if (opts.mode !== 'create') return new Map();
  const userNamespacedAsRoot = namespaces.own.includes('mount') && namespaces.inUser && process.geteuid?.() === 0;
  // Id-mapped mounts only the runtime can make: then it opens every source, which keeps them in order.
  if (!userNamespacedAsRoot && !hasIdMappedMounts(opts.config)) return new Map();
  return openBindSources(hostKernel, opts.config, opts.bundle, userNamespaceWithMaps);
}

/** How the child gets into its cgroups; see placeAtClone. */
interface ClonePlacement {
  /** The cgroup2 directory to clone into. */
  cloneInto?: string;
  /** v1 directories the child joins itself, writing 0 to their `tasks`. */
  byChild: string[];
  /** The v1 memory directory, which the child joins itself last: once set up, right before it reports ready. */
  memoryByChild?: string;
  /** Directories the runtime writes the child's pid into (cgroup.procs). */
  byParent: string[];
  field: string;
}

/**
 * Moving another process into a cgroup (writing its pid to cgroup.procs)
 * takes the kernel's global cgroup_threadgroup_rwsem for writing, which waits
 * for an RCU grace period: 10-20 ms per create. Two ways avoid it (both in
 * kernel/cgroup/cgroup.c): clone3's CLONE_INTO_CGROUP (Linux 5.7) for the
 * cgroup2 hierarchy, and a single-threaded process writing "0" (itself) to a
 * v1 `tasks` file. A child in a new user namespace has no right to the host's
 * cgroup files, so the runtime places it in the v1 hierarchies then.
 *
 * The v1 memory cgroup is joined last, by the init itself once the container
 * is set up and before it reports ready (init.ts): what the copy of the
 * runtime touches while it sets up (each page copied on write) is the
 * runtime's memory, not the container's, and a container with a 1 MiB limit
 * runs. Not with a new cgroup namespace, whose root is the init's cgroup when
 * it is made.
 */
function placeAtClone(cgroups: CgroupPlacement | undefined, cloneFlags: number, newCgroupNamespace: boolean): ClonePlacement {
  if (!cgroups) return { byChild: [], byParent: [], field: '' };
  const v1 = cgroups.memory ? [...cgroups.v1, cgroups.memory] : [...cgroups.v1];
  if (cloneFlags & CLONE.NEWUSER) return { cloneInto: cgroups.unified, byChild: [], byParent: v1, field: cgroups.field };
  const late = newCgroupNamespace ? undefined : cgroups.memory;
  return {
    cloneInto: cgroups.unified,
    byChild: v1.filter((dir) => dir !== late),
    memoryByChild: late,
    byParent: [],
    field: cgroups.field,
  };
}

/**
 * forkProcess, straight into the cgroup2 directory when there is one. A
 * kernel without CLONE_INTO_CGROUP, or a refusal, falls back to a plain clone
 * and a write of cgroup.procs, whose error names the setting.
 */
function forkIntoCgroup(cloneFlags: number, placement: ClonePlacement, fds: number[]): number {
  if (placement.cloneInto !== undefined) {
    const dirFd = open(placement.cloneInto, O.PATH | O.DIRECTORY | O.CLOEXEC);
    fds.push(dirFd);
    try {
      return forkProcess(cloneFlags, undefined, dirFd);
    } catch {
      placement.byParent.push(placement.cloneInto);
    }
  }
  return forkProcess(cloneFlags);
}

function startTimeOf(pid: number): number {
  const stat = readProcStat(pid);
  if (stat === null) throw initDied(pid, pid);
  return stat.startTime;
}

function connectConsoleSocket(path: string | { fd: number } | undefined): number {
  if (typeof path === 'object') return path.fd;
  if (!path) throw new OciError('usage', 'process.terminal is true: pass --console-socket');
  try {
    return connectUnix(path);
  } catch (err) {
    throw wrap(err, `--console-socket ${path}`, { code: 'usage', errnoOnly: true });
  }
}

/** SIGSEGV or SIGBUS if the (dead or dying) child was killed by one, else 0. */
function crashSignal(pid: number): number {
  try {
    // A child whose socket end just closed is exiting: give it a moment to become a zombie.
    for (let i = 0; i < 50; i++) {
      const [reaped, status] = waitpid(pid, WNOHANG);
      if (reaped === pid) return (status & 0x7f) === 11 || (status & 0x7f) === 7 ? status & 0x7f : 0;
      sleepMs(1);
    }
  } catch {
    // not our child any more
  }
  return 0;
}

/** The init is gone before it was ready: say how, when it was our child to ask. */
function initDied(initPid: number, childPid: number): OciError {
  let how = '';
  try {
    const [reaped, status] = waitpid(childPid, WNOHANG);
    if (reaped !== 0 && initPid === childPid) {
      how = status & 0x7f ? ` (killed by signal ${status & 0x7f})` : ` (exit status ${(status >> 8) & 0xff})`;
    }
  } catch {
    // already reaped, or re-parented: nothing more to tell
  }
  return new OciError('container-init', `container init exited before it was ready${how}`);
}

function killAndReap(initPid: number, childPid: number): void {
  for (const p of new Set([initPid, childPid])) {
    tryKill(p, 9);
    try {
      waitpid(p);
    } catch {
      // not our child (re-parented) or already reaped
    }
  }
}
