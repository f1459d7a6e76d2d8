// The container's init, running in the child that clone3 made from the
// runtime process. It is a copy of the runtime with a single thread: all its
// work is synchronous, and it ends in execve(2) or _exit(2), never back in
// Node's event loop (see ../shared notes on the process model).
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Process, Spec } from '../spec/types.js';
import {
  CLONE,
  O,
  chdir,
  getcwd,
  joinSessionKeyring,
  CLOSE_RANGE_CLOEXEC,
  close,
  closeRange,
  execve,
  exit,
  read,
  resetSignalDisposition,
  setCloexec,
  setsid,
  umask,
  unblockAllSignals,
  write,
} from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { openInitProcfs, procfs, releaseProcfs } from '../linux/procfs.js';
import { becomeUndumpable, closeJoins, prepareTimeNamespace, unshareNamespaces, type NamespacePlan } from '../linux/namespaces.js';
import { applyRlimits } from '../linux/rlimits.js';
import { bringLoopbackUp } from '../linux/loopback.js';
import { joinNamespacesCheckingIdMaps } from '../linux/joined-user-namespace.js';
import { applyMemoryPolicy } from '../linux/memory-policy.js';
import { applyFinalAffinity } from '../linux/cpu-affinity.js';
import { setupTerminal } from '../linux/console.js';
import { buildRootfs, checkJoinedRoot, finishRootfs, type RootEntry } from '../linux/rootfs.js';
import { enterSharedRoot, sharesRuntimeMountNamespace } from '../linux/shared-root.js';
import { hostHierarchies, type MountableHierarchies } from '../linux/cgroup-mount.js';
import type { BindSources } from '../linux/bind-sources.js';
import { ensureInRoot, openRoot } from '../linux/paths.js';
import { homeFor } from '../linux/user.js';
import { applyCredentials, readCredentialFacts } from '../linux/credentials.js';
import { hasHooks, runHooks, type HookState } from '../hooks/hooks.js';
import { asOciError, errnoOf, OciError, wrap, type ErrorCode } from '../errors.js';
import { forkProcess } from './forkable.js';
import { switchToSealedExe, type SealedExe } from './sealed-exe.js';
import { forgetRuntimeEnvironment, type EnvironmentBlock } from './runtime-environment.js';
import { FIRST_PASSED_FD, dropFdsNotKept, markFdsCloseOnExecThroughProcfs } from './fds.js';
import { openForWriting, writeFile, writeToOpened } from '../cgroups/files.js';
import { resolveExecutable } from './exec-path.js';
import type { Channel } from './channel.js';
import { applyAfterCredentials, applyBeforeCredentials, applyBeforeExec, type SecurityPlan } from './security.js';

export interface InitContext {
  /** The system calls that change the container (sys/kernel.ts). */
  kernel: Kernel;
  /** create: set the container up and wait for start; exec: join it and run at once. */
  mode: 'create' | 'exec';
  config: Spec;
  /**
   * The process to run: config.process for create, the exec'd process for
   * exec. A create without one sets the container up and waits; start refuses it.
   */
  process: Process | undefined;
  bundle: string;
  rootfs: string;
  namespaces: NamespacePlan;
  channel: Channel;
  /** create only: blocks until start writes to it. */
  fifoFd: number;
  /** create only: open for writing until execve; start reads why the init failed from it. */
  statusFd: number;
  /** A connected console socket when process.terminal is true, else -1. */
  consoleSocketFd: number;
  /** Where the runtime's environment strings are, to zero (runtime-environment.ts). */
  runtimeEnvironment: EnvironmentBlock;
  /** The runtime's binary through a read-only overlay, to run from (sealed-exe.ts). */
  sealedExe: SealedExe | null;
  preserveFds: number;
  noPivot: boolean;
  /** exec into a container without a mount namespace: its root's bind mount (see linux/shared-root.ts). */
  sharedRootMountId?: number;
  /** create: the name of the new session keyring; absent with --no-new-keyring. */
  sessionKeyring?: string;
  /** /proc/self/maps, opened before joining namespaces (for the second fork). */
  mapsFd?: number;
  /** seccomp compiled by the runtime, and when to load it (see security.ts). */
  security?: SecurityPlan;
  /** v1 cgroup directories to join first, and the memory one last, as this process alone (see spawn.ts placeAtClone). */
  ownCgroups?: { dirs: string[]; memory?: string; field: string };
  /** create: what a cgroup mount in the container shows (see linux/cgroup-mount.ts). */
  cgroupHierarchies?: MountableHierarchies;
  /** create: bind sources the runtime opened (see linux/bind-sources.ts). */
  bindSources?: BindSources;
  /** The memory cgroup's `tasks`, opened while the host's paths are in reach. */
  memoryTasksFd?: number;
  /** With tmpcopyup: `tasks` of the memory cgroup the init started in, to return to after a copy. */
  startMemoryTasksFd?: number;
  /** From the runtime once its hooks ran, for the init's own hooks. */
  hookState?: HookState;
  /** Filled in once in the container's namespaces: how the init gets into the root. */
  rootEntry?: RootEntry | 'none';
  /** Filled in by setup: what execve gets. */
  executable?: string;
  env?: string[];
}

export function runInit(ctx: InitContext): never {
  try {
    // Processes in the container must not reach this one's memory or its
    // /proc/<pid>/exe (the runtime binary) while it joins them (CVE-2019-5736),
    // and the exe they could reach (with CAP_SYS_PTRACE, or by executing
    // /proc/self/exe) must be one that cannot be written. First of all: the
    // switch maps the binary anew, so every page of it this process ran
    // before would fault in again (a fork copies no page table entries of
    // the binary's text).
    becomeUndumpable(ctx.kernel, ctx.namespaces, false);
    switchToSealedExe(ctx.sealedExe);
    forgetRuntimeEnvironment(ctx.runtimeEnvironment);
    // Before the container's namespaces and mounts: every later /proc access goes through it.
    openInitProcfs();
    dropFdsNotKept(fdsToKeep(ctx));
    resetSignals();
    if (ctx.namespaces.forkAgain) ctx.mapsFd = procfs().openSelf('maps', O.RDONLY);
    expect(ctx, 'go');
    joinCgroups(ctx);
    const rootfsSeen = ctx.mode === 'create' ? rootfsIdentity(ctx.rootfs) : null;
    const sharedRoot = ctx.mode === 'create' && sharesRuntimeMountNamespace(ctx.config);
    enterNamespaces(ctx);
    if (ctx.mode === 'create') ctx.rootEntry = sharedRoot ? 'chroot' : rootEntry(ctx, rootfsSeen);
    if (ctx.sharedRootMountId !== undefined) enterSharedRoot(ctx.kernel, ctx.rootfs, ctx.sharedRootMountId);
    if (ctx.sessionKeyring) joinSessionKeyring(ctx.sessionKeyring);
    if (ctx.mode === 'create') setupContainer(ctx);
    // setupContainer made it already when it had /dev/console to bind.
    if (ctx.process?.terminal && ctx.consoleSocketFd >= 0) setupTerminal(ctx.consoleSocketFd, ctx.process.consoleSize, false);
    if (ctx.process) prepareProcess(ctx, ctx.process);
    joinMemoryCgroup(ctx);
    ctx.channel.send({ type: 'ready' });
    ctx.channel.close();
    if (ctx.security?.closeRangeFiltered) markFdsCloseOnExecThroughProcfs(FIRST_PASSED_FD + ctx.preserveFds);
    // An unmasked procfs is no handle to hold while the container may look at
    // this process's fds (/proc/<pid>/fd) and the init waits for start.
    releaseProcfs();
  } catch (err) {
    reportAndExit(ctx, err);
  }
  if (ctx.mode === 'create') waitForStart(ctx);
  if (!ctx.process) exit(1); // released by something other than start, which refuses it
  if (ctx.mode === 'create') runStartHooks(ctx);
  return execProcess(ctx);
}

/** What the init works with, and what the container's process gets (fds 3 .. 3+preserveFds-1). */
function fdsToKeep(ctx: InitContext): number[] {
  const preserved = Array.from({ length: ctx.preserveFds }, (_, i) => FIRST_PASSED_FD + i);
  const joins = ctx.namespaces.joins.map((join) => join.fd);
  const bindSources = [...(ctx.bindSources?.values() ?? [])];
  return [ctx.channel.fd, ctx.fifoFd, ctx.statusFd, ctx.consoleSocketFd, ...joins, ...bindSources, ...preserved].filter((fd) => fd >= 0);
}

function joinCgroups(ctx: InitContext): void {
  const own = ctx.ownCgroups;
  if (!own) return;
  for (const dir of own.dirs) writeFile(dir, 'tasks', '0', own.field);
  if (own.memory) ctx.memoryTasksFd = openForWriting(own.memory, 'tasks', own.field);
  if (own.memory && ctx.mode === 'create' && hasCopyUp(ctx.config)) {
    const start = hostHierarchies().hierarchies.find((h) => h.name.split(',').includes('memory'));
    if (start) ctx.startMemoryTasksFd = openForWriting(start.hostDir, 'tasks', own.field);
  }
}

function hasCopyUp(config: Spec): boolean {
  return (config.mounts ?? []).some((m) => m.options?.includes('tmpcopyup'));
}

/**
 * A tmpcopyup's copy is the image's data, as large as the image makes it:
 * the init joins the container's v1 memory cgroup for it, whose limit then
 * bounds it (tmpfs pages are charged to the cgroup of the task that
 * allocates them), and goes back to the runtime's for the rest of the setup
 * (see joinMemoryCgroup). Already in it, or without one, it just copies.
 */
function chargedToContainer(ctx: InitContext, work: () => void): void {
  if (ctx.memoryTasksFd === undefined || ctx.startMemoryTasksFd === undefined) {
    work();
    return;
  }
  const { memory, field } = ctx.ownCgroups!;
  writeToOpened(ctx.memoryTasksFd, '0', path.join(memory!, 'tasks'), field);
  try {
    work();
  } finally {
    writeToOpened(ctx.startMemoryTasksFd, '0', "the runtime's memory cgroup", field);
  }
}

/**
 * Last, once the container is set up and right before it reports ready, so
 * that create returns with the init in every cgroup of the container (engines
 * read its memory cgroup from /proc/<pid>/cgroup then), while the pages the
 * copy of the runtime touched so far stay charged to the runtime: a v1 memory
 * cgroup charges pages as they are touched and does not move earlier charges
 * with the task (memory.move_charge_at_immigrate is 0 by default). A v1
 * cgroup checks the writer's rights as of open(2), so the fd still serves
 * after the switch of user.
 */
function joinMemoryCgroup(ctx: InitContext): void {
  if (ctx.memoryTasksFd === undefined) return;
  writeToOpened(ctx.memoryTasksFd, '0', path.join(ctx.ownCgroups!.memory!, 'tasks'), ctx.ownCgroups!.field);
  close(ctx.memoryTasksFd);
  ctx.memoryTasksFd = undefined;
  if (ctx.startMemoryTasksFd !== undefined) close(ctx.startMemoryTasksFd);
  ctx.startMemoryTasksFd = undefined;
}

/**
 * See RootEntry: whether the container has a mount namespace of its own or
 * joins another than the runtime's decides. A joined one where the root is not the directory the
 * runtime saw (another container's, whose root has none of the host's paths:
 * runc fails there) is taken as it is, its root and mounts those of the
 * container ('none'), which is what ocirun's `--share mnt` means.
 */
function rootEntry(ctx: InitContext, rootfsSeen: string | null): RootEntry | 'none' {
  const mount = (ctx.config.linux?.namespaces ?? []).find((ns) => ns.type === 'mount');
  if (mount?.path && rootfsIdentity(ctx.rootfs) !== rootfsSeen) return 'none';
  return ctx.noPivot ? 'move' : 'pivot';
}

/** Device and inode of the root directory as this process sees it, or null when it sees none. */
function rootfsIdentity(rootfs: string): string | null {
  try {
    const st = statSync(rootfs);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

function expect(ctx: InitContext, type: 'go' | 'ok'): void {
  const message = ctx.channel.receive();
  if (message === null) exit(1); // the runtime process died: nothing to report to
  if (message.type !== type) throw new OciError('internal', `protocol error: expected ${type}, got ${message.type}`);
}

function enterNamespaces(ctx: InitContext): void {
  const { kernel, namespaces: ns } = ctx;
  joinNamespacesCheckingIdMaps(kernel, ns, ctx.config, ctx.mode);
  closeJoins(ns);
  if (ns.unshareFlags !== 0) {
    unshareNamespaces(kernel, ns.unshareFlags);
    if (ns.newUser) {
      ctx.channel.send({ type: 'need-maps' });
      expect(ctx, 'ok');
    }
  }
  if (ns.forkAgain) {
    const pid = forkProcess(0, ctx.mapsFd);
    if (pid > 0) {
      ctx.channel.send({ type: 'init-pid', pid });
      exit(0);
    }
  }
  // Still as the runtime's host uid, which owns this process's /proc files.
  prepareTimeNamespace(kernel, ns);
  if (ns.inUser) {
    // The creator of a user namespace (or a process that joined one) has
    // every capability in it but runs as the overflow uid until it switches
    // to the mapped root (user_namespaces(7)); files it made meanwhile would
    // fail with EOVERFLOW.
    kernel.setresgid(0);
    kernel.setresuid(0);
    becomeUndumpable(kernel, ns, true);
  }
  if (ns.newCgroup) kernel.unshare(CLONE.NEWCGROUP);
  setsid();
}

function setupContainer(ctx: InitContext): void {
  const { kernel, config } = ctx;
  if (ctx.namespaces.own.includes('network')) bringLoopbackUp();
  const entry = ctx.rootEntry!;
  if (entry === 'none') {
    checkJoinedRoot(config);
    runCreateHooks(ctx);
  } else {
    buildRootfs({
      kernel,
      beforePivot: () => runCreateHooks(ctx),
      config,
      rootfs: ctx.rootfs,
      bundle: ctx.bundle,
      inUserNamespace: ctx.namespaces.inUser,
      newCgroupNamespace: ctx.namespaces.newCgroup,
      cgroupHierarchies: ctx.cgroupHierarchies,
      entry,
      bindSources: ctx.bindSources,
      charged: (work) => chargedToContainer(ctx, work),
    });
    // runc creates a missing cwd inside the new root, before it may turn read-only.
    if (ctx.process) makeCwd(ctx.process.cwd);
    // /dev/console too: it may be a file of the root itself.
    if (ctx.process?.terminal) {
      setupTerminal(ctx.consoleSocketFd, ctx.process.consoleSize, true);
      ctx.consoleSocketFd = -1;
    }
  }
  if (config.hostname) kernel.sethostname(config.hostname);
  if (config.domainname) kernel.setdomainname(config.domainname);
  // Through the runtime's procfs, whose /proc/sys the read-only paths do not cover.
  for (const [key, value] of Object.entries(config.linux?.sysctl ?? {})) {
    writeProcFile(`sys/${key.replace(/\./g, '/')}`, value, `sysctl ${key}`);
  }
  if (entry !== 'none') finishRootfs(kernel, config);
}

/**
 * prestart and createRuntime run in the runtime (it is asked to), then
 * createContainer here: in the container's namespaces, before pivot_root
 * (config.md "createContainer Hooks"). The runtime's answer also carries the
 * state that startContainer hooks get later.
 */
function runCreateHooks(ctx: InitContext): void {
  const hooks = ctx.config.hooks;
  if (!hasHooks(hooks, 'prestart', 'createRuntime', 'createContainer', 'startContainer')) return;
  ctx.channel.send({ type: 'hooks' });
  const message = ctx.channel.receive();
  if (message === null) exit(1); // the runtime process died (or a hook failed and it is killing us)
  if (message.type !== 'hooks-done') throw new OciError('internal', `protocol error: expected hooks-done, got ${message.type}`);
  ctx.hookState = message.state;
  runHooks('createContainer', hooks, message.state);
}

/** The process settings, for the init and for exec alike. */
function prepareProcess(ctx: InitContext, processSpec: Process): void {
  if (processSpec.oomScoreAdj !== undefined) {
    writeProcFile(`${procfs().selfDir()}/oom_score_adj`, String(processSpec.oomScoreAdj), 'process.oomScoreAdj', '/proc/self/oom_score_adj');
  }
  applyRlimits(ctx.kernel, processSpec.rlimits);
  enterCwd(processSpec.cwd);
  const env = containerEnv(processSpec);
  ctx.executable = resolveExecutable(processSpec.args![0], env, processSpec.cwd);
  ctx.env = env;
  // Before seccomp may forbid them; in the container's cgroups by now (memory v1 aside).
  applyMemoryPolicy(ctx.config.linux?.memoryPolicy);
  applyFinalAffinity(ctx.mode, processSpec);
  // What /proc says about credentials is read before a seccomp filter may
  // stand in the way (applyBeforeCredentials loads it when noNewPrivileges is false).
  const credentials = readCredentialFacts(processSpec);
  applyBeforeCredentials(ctx.config, processSpec, ctx.security, ctx.channel);
  applyCredentials(ctx.kernel, processSpec, credentials);
  umask(processSpec.user?.umask ?? 0o022);
  applyAfterCredentials(ctx.security, ctx.channel);
}

/**
 * Creates the cwd inside the root, never through a magic link such as
 * /proc/self/fd/N (which could name a directory of the host).
 */
function makeCwd(cwd: string): void {
  const rootFd = openRoot('/');
  try {
    close(ensureInRoot(rootFd, cwd, 'dir'));
  } catch (err) {
    throw wrap(err, `process.cwd ${cwd}`);
  } finally {
    close(rootFd);
  }
}

/**
 * chdir, then make sure the directory is inside the container's root: a cwd
 * through an fd inherited from the runtime (/proc/self/fd/N) would give the
 * process a directory of the host (CVE-2024-21626).
 */
function enterCwd(cwd: string): void {
  chdir(cwd);
  let where: string;
  try {
    where = getcwd();
  } catch {
    where = '';
  }
  if (!where.startsWith('/')) throw new OciError('container-init', `process.cwd ${cwd} is outside the container's root`);
}

function containerEnv(processSpec: Process): string[] {
  const env = [...(processSpec.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${homeFor(processSpec.user?.uid ?? 0)}`);
  return env;
}

/** `file` below the runtime's procfs (procfs.ts); `shown` names it in errors. */
function writeProcFile(file: string, value: string, what: string, shown = `/proc/${file}`): void {
  try {
    procfs().write(file, value);
  } catch (err) {
    const code = errnoOf(err);
    const refused = (code === 'EACCES' || code === 'EPERM') && what.startsWith('process');
    const hint = refused ? ' (the kernel refused it; lowering oom_score_adj needs CAP_SYS_RESOURCE)' : '';
    throw wrap(err, `${what}: cannot write ${value} to ${shown}`, { errnoOnly: true, hint });
  }
}

/** Blocks until `start` writes to the exec FIFO. */
function waitForStart(ctx: InitContext): void {
  try {
    const byte = read(ctx.fifoFd, 1);
    if (byte.length !== 1) exit(1);
    close(ctx.fifoFd);
  } catch (err) {
    failAfterReady(err, ctx.statusFd);
  }
}

/**
 * startContainer hooks: in the container, as its process, before execve
 * (config.md). A program of the container's image: without its own `env` it
 * gets the process's environment, never the runtime's (an engine's secrets).
 */
function runStartHooks(ctx: InitContext): void {
  if (!ctx.hookState) return;
  try {
    runHooks('startContainer', ctx.config.hooks, { ...ctx.hookState, status: 'created' }, ctx.env);
  } catch (err) {
    failAfterReady(err, ctx.statusFd);
  }
}

/** Becomes the user's process. Only fds 0-2 and the preserved ones survive into it. */
function execProcess(ctx: InitContext): never {
  try {
    passOnlyProcessFds(ctx);
    unblockAllSignals();
    applyBeforeExec(ctx.security);
    releaseStart(ctx);
    execve(ctx.executable!, ctx.process!.args!, ctx.env!);
  } catch (err) {
    failAfterReady(err, ctx.statusFd);
  }
}

/**
 * Fds 0-2 and the preserved ones go to the process; every other fd is made
 * close-on-exec rather than closed now: libuv's eventfd is among them, and V8
 * may still signal it (write, EBADF, abort) before execve. Where the seccomp
 * filter is already loaded and may refuse close_range(2), that was done before
 * the wait for start (markFdsCloseOnExecThroughProcfs); every fd opened since
 * is close-on-exec (libuv opens all its fds so).
 */
function passOnlyProcessFds(ctx: InitContext): void {
  const keep = 3 + ctx.preserveFds;
  if (!ctx.security?.closeRangeFiltered) closeRange(keep, 0xffffffff, CLOSE_RANGE_CLOEXEC);
  for (let fd = 0; fd < keep; fd++) {
    try {
      setCloexec(fd, false);
    } catch {
      // not open: nothing to pass on
    }
  }
}

/**
 * start returns when the status FIFO reaches end of file. Close-on-exec, that
 * is once execve has replaced this process, which first tears down the copy
 * of the runtime (2-3 ms): poststart hooks need that, to run once the process
 * runs (config.md). Without them the fd is closed right before execve, as
 * runc's start returns before the exec: a failing execve (rare: create found
 * the executable) then shows as the container's exit status 127 and its
 * stderr, not as start's error.
 */
function releaseStart(ctx: InitContext): void {
  if (ctx.statusFd < 0 || hasHooks(ctx.config.hooks, 'poststart')) return;
  close(ctx.statusFd);
  ctx.statusFd = -1;
}

/**
 * Past 'ready' the runtime process is gone: `start` reads the status FIFO
 * (when this is a created init), and the container's stderr gets it too.
 */
function failAfterReady(err: unknown, statusFd = -1): never {
  const failure = initFailure(err);
  if (statusFd >= 0) {
    try {
      write(statusFd, JSON.stringify(failure));
    } catch {
      // nobody to tell but stderr
    }
  }
  write(2, `ocirun: ${failure.message}\n`);
  exit(127);
}

/**
 * How the init's failure is reported: a failed hook in its own words, anything
 * else as the init's, with the code of what the config asked for, else
 * 'container-init' (create tells an init the OOM killer stopped by that code).
 */
function initFailure(err: unknown): { code: ErrorCode; message: string } {
  const failure = asOciError(err);
  if (failure.code === 'hook-failed') return { code: failure.code, message: failure.message };
  const code = failure.code === 'system' || failure.code === 'internal' ? 'container-init' : failure.code;
  return { code, message: `container init: ${failure.message}` };
}

// Node installed handlers (and ignores SIGPIPE); the user's process must start
// with default dispositions, since ignored signals stay ignored across execve(2).
function resetSignals(): void {
  for (let sig = 1; sig < 65; sig++) {
    if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue;
    resetSignalDisposition(sig);
  }
}

function reportAndExit(ctx: InitContext, err: unknown): never {
  try {
    ctx.channel.send({ type: 'error', ...initFailure(err) });
  } catch {
    // the parent is gone
  }
  exit(1);
}
