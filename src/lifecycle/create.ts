// create (runtime-spec runtime.md "Create"): validate the bundle, claim the
// id, spawn the init, and record the state.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import { spawnInit } from '../process/spawn.js';
import { SPEC_VERSION } from '../spec/default-spec.js';
import { loadBundle } from '../spec/load.js';
import type { ContainerLock, ContainerState, Store } from '../state/store.js';
import { mkfifo, tryKill } from '../sys/libc.js';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  /** A socket path, or (run attaching the terminal itself) one end of a socketpair. */
  consoleSocket?: string | { fd: number };
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
      mode: 'create',
      config,
      process: config.process!,
      namespaces: config.linux?.namespaces ?? [],
      consoleSocket: opts.consoleSocket,
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
