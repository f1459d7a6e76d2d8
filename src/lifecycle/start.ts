// start (runtime-spec runtime.md "Start"): release the waiting init through the exec FIFO.
import { closeSync, openSync, unlinkSync, writeSync, constants as fsc } from 'node:fs';
import { OciError } from '../errors.js';
import { currentStatus } from '../state/status.js';
import type { ContainerState, Store } from '../state/store.js';

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
