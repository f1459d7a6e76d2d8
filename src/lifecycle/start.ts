// start (runtime-spec runtime.md "Start"): release the waiting init through
// the exec FIFO, wait until it has become the user's process, then run the
// poststart hooks, all under the container's lock.
import { closeSync, openSync, readSync, unlinkSync, writeSync, constants as fsc } from 'node:fs';
import { errnoOf, messageOf, OciError, type ErrorCode } from '../errors.js';
import { runHooks, stateForHooks } from '../hooks/hooks.js';
import { warn } from '../log.js';
import { deleteLocked } from './delete.js';
import type { Spec } from '../spec/types.js';
import type { ContainerState, Store } from '../state/store.js';
import { POLLIN, pollOne } from '../sys/libc.js';
import { openContainer, requireStatus, type OpenContainer } from './container.js';
import { NotifyRelay } from './notify.js';

export interface Started {
  state: ContainerState;
  /** With a notify socket (see notify.ts): the relay that the caller waits on, or closes. */
  notify: NotifyRelay | null;
}

/** `start`: takes the container's lock for the time of the start. */
export function startContainer(store: Store, id: string): Started {
  const container = openContainer(store, id, { lock: true });
  try {
    return startLocked(store, container);
  } finally {
    container.release();
  }
}

/** Starts `container`, whose lock the caller holds: start's own, or the one `run` took over from create. */
export function startLocked(store: Store, container: OpenContainer): Started {
  const { id, state } = container;
  requireStatus(
    container,
    ['created'],
    (_, status) => new OciError('wrong-state', `${id}: cannot start a container that is ${status} (only a created container can be started)`),
  );
  // Left as it is: created, for delete to remove.
  if (!(state.config as Spec | undefined)?.process) {
    throw new OciError('invalid-config', `${id}: cannot start: its config.json has no process (config.md: process is REQUIRED when start is called)`);
  }
  // Opened before the init is released, so that what it writes there is kept until read.
  const statusFd = openStatusFifo(store.statusFifoPath(id));
  let notify: NotifyRelay | null = null;
  try {
    notify = NotifyRelay.open(store, state);
    releaseInit(store.fifoPath(id), id);
    const failure = statusFd >= 0 ? readUntilExec(statusFd) : '';
    if (failure) {
      const { code, message } = JSON.parse(failure) as { code: ErrorCode; message: string };
      throw new OciError(code, message);
    }
  } catch (err) {
    notify?.close();
    throw err;
  } finally {
    if (statusFd >= 0) {
      closeSync(statusFd);
      unlinkSync(store.statusFifoPath(id));
    }
  }
  const started: ContainerState = { ...state, status: 'running' };
  store.write(started);
  try {
    runHooks('poststart', (state.config as Spec | undefined)?.hooks, stateForHooks(state, 'running', state.pid));
  } catch (err) {
    // runtime.md "Lifecycle" steps 9, 12 and 13: a failed poststart hook stops
    // the container, which is then destroyed, poststop hooks included.
    notify?.close();
    destroyAfterFailure(store, container);
    throw err;
  }
  return { state: started, notify };
}

/** The hook's error is the one to report. */
function destroyAfterFailure(store: Store, container: OpenContainer): void {
  try {
    deleteLocked(store, container, true);
  } catch (err) {
    warn(messageOf(err));
  }
}

function openStatusFifo(fifo: string): number {
  try {
    return openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch {
    return -1; // an init that keeps no status FIFO
  }
}

function releaseInit(fifo: string, id: string): void {
  let fd: number;
  try {
    fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch (err) {
    // ENXIO: no reader, the init is gone (fifo(7)).
    throw new OciError('container-init', `${id}: the container's init is not waiting to start (${errnoOf(err)})`, [], { cause: err });
  }
  try {
    writeSync(fd, '0');
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
}

/**
 * The init holds the status FIFO open for writing, close-on-exec: end of file
 * means it has exec'd the user's process (or died); anything it wrote before
 * is why it failed (JSON: code and message). The fd is non-blocking so that
 * the open above could not wait for a writer; poll(2) waits for data or the
 * hangup instead.
 */
function readUntilExec(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      pollOne(fd, POLLIN, 1000);
      continue;
    }
    if (n === 0) return Buffer.concat(chunks).toString().trim();
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}
