// The container lifecycle (runtime-spec runtime.md "Operations") over the
// state store and the init spawner. The CLI commands are thin layers on this.
import { closeSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync, constants as fsc } from 'node:fs';
import path from 'node:path';
import { OciError, notRunning } from './errors.js';
import { loadBundle } from './spec/load.js';
import { SPEC_VERSION } from './spec/default-spec.js';
import { currentStatus, type Status } from './state/status.js';
import { Store, type ContainerLock, type ContainerState } from './state/store.js';
import { spawnInit } from './process/spawn.js';
import { mkfifo, tryKill } from './sys/libc.js';
import { isSameLiveProcess, namespaceId, pidsInPidNamespace, processesHoldingFile } from './sys/proc.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot: boolean;
  noNewKeyring: boolean;
  preserveFds: number;
}

export interface Created {
  state: ContainerState;
  lock: ContainerLock;
}

/**
 * Creates the container and leaves its init waiting for `start`. Returns with
 * the lock still held so `run` can go on to start it; the caller releases it.
 */
export function createContainer(store: Store, opts: CreateOptions): Created {
  const bundle = loadBundle(opts.bundle);
  const { config } = bundle;
  if (config.process?.terminal && !opts.consoleSocket) {
    throw new OciError('usage', 'process.terminal is true: pass --console-socket, or set process.terminal to false');
  }
  if (config.process?.terminal) {
    throw new OciError('unsupported', 'process.terminal: terminals are not supported yet');
  }
  const lock = store.claim(opts.id);
  try {
    const fifoPath = store.fifoPath(opts.id);
    mkfifo(fifoPath, 0o600);
    const base = {
      ociVersion: SPEC_VERSION,
      id: opts.id,
      bundle: bundle.dir,
      annotations: config.annotations,
      rootfs: bundle.rootfs,
      created: new Date().toISOString(),
      owner: '',
      config,
    };
    const init = spawnInit({
      config,
      bundle: bundle.dir,
      rootfs: bundle.rootfs,
      fifoPath,
      preserveFds: opts.preserveFds,
      noPivot: opts.noPivot,
      privateFds: [lock.fd],
      onProcess: (pid, initStartTime, ownNamespaces) =>
        store.write({ ...base, status: 'creating', pid, initStartTime, ownNamespaces }),
    });
    const state: ContainerState = {
      ...base,
      status: 'created',
      pid: init.pid,
      initStartTime: init.startTime,
      ownNamespaces: init.ownNamespaces,
    };
    try {
      store.write(state);
      if (opts.pidFile) writePidFile(opts.pidFile, init.pid);
    } catch (err) {
      tryKill(init.pid, 9);
      throw err;
    }
    return { state, lock };
  } catch (err) {
    store.remove(opts.id);
    lock.release();
    throw err;
  }
}

/** runc's format, which containerd reads: the bare number, no newline, renamed into place. */
export function writePidFile(file: string, pid: number): void {
  const target = path.resolve(file);
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}`);
  writeFileSync(temp, String(pid), { mode: 0o644 });
  renameSync(temp, target);
}

export function startContainer(store: Store, id: string, state: ContainerState): ContainerState {
  const status = currentStatus(store, state);
  if (status !== 'created') {
    throw new OciError('wrong-state', `${id}: cannot start a container that is ${status} (only a created container can be started)`);
  }
  const fifo = store.fifoPath(id);
  let fd: number;
  try {
    fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch (err) {
    // ENXIO: no reader, the init is gone (fifo(7)).
    throw new OciError('container-init', `${id}: the container's init is not waiting to start (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    writeSync(fd, '0');
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
  const started: ContainerState = { ...state, status: 'running' };
  store.write(started);
  return started;
}

export function statusOf(store: Store, state: ContainerState | null): Status {
  return currentStatus(store, state);
}

/** runtime-spec state as `state` prints it (runc adds rootfs, created, owner). */
export function publicState(store: Store, state: ContainerState) {
  const status = currentStatus(store, state);
  return {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: status === 'stopped' ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
    owner: state.owner,
    ...(state.annotations ? { annotations: state.annotations } : {}),
  };
}

/** Every process of the container: its pid namespace if it has its own, else just the init. */
export function containerPids(state: ContainerState): number[] {
  if (!isSameLiveProcess(state.pid, state.initStartTime)) return [];
  if (state.ownNamespaces.includes('pid')) {
    const ns = namespaceId(state.pid, 'pid');
    if (ns) return pidsInPidNamespace(ns);
  }
  return [state.pid];
}

export function signalContainer(store: Store, id: string, signal: number, all: boolean): void {
  const state = store.read(id);
  const status = currentStatus(store, state);
  if (state === null || status === 'stopped') throw notRunning(id);
  const targets = all ? containerPids(state) : [state.pid];
  for (const pid of targets) tryKill(pid, signal);
}

/** Kills everything left of the container and waits (bounded) for it to go. */
export function killAll(state: ContainerState): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = containerPids(state);
    if (pids.length === 0) return;
    for (const pid of pids) tryKill(pid, 9);
    if (Date.now() > deadline) throw new OciError('system', `${state.id}: processes ${pids.join(' ')} did not die after SIGKILL`);
    sleepMs(5);
  }
}

export function deleteContainer(store: Store, id: string, force: boolean): void {
  const lock = store.lock(id);
  try {
    let state: ContainerState | null;
    try {
      state = store.read(id);
    } catch (err) {
      if (!(err instanceof OciError && err.code === 'state-corrupt') || !force) throw err;
      state = null;
    }
    const status = currentStatus(store, state);
    if (state !== null && (status === 'running' || status === 'paused') && !force) {
      throw new OciError('wrong-state', `${id}: cannot delete container that is not stopped: ${status} (use --force)`);
    }
    if (state !== null) killAll(state);
    // Without a readable state, an init still waiting for start is found by the FIFO it holds.
    else killFifoHolders(store.fifoPath(id));
    store.remove(id);
  } finally {
    lock.release();
  }
}

function killFifoHolders(fifo: string): void {
  const holders = processesHoldingFile(fifo);
  for (const pid of holders) tryKill(pid, 9);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

