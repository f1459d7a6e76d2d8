// Handing a seccomp notify fd to the agent at linux.seccomp.listenerPath
// (config-linux.md "The Container Process State"): one connection, one
// message of JSON with the fd attached (SCM_RIGHTS), then the connection is
// closed. Done by the runtime, which still sees the host's filesystem.
import { wrap } from '../errors.js';
import { SPEC_VERSION } from '../spec/default-spec.js';
import type { SpecStatus } from '../state/status.js';
import { SysError, close, connectUnix, strerror } from '../sys/libc.js';
import { sendFd } from '../sys/fd-passing.js';

export interface ListenerState {
  id: string;
  status: SpecStatus;
  bundle: string;
  annotations?: Record<string, string>;
}

export function containerProcessState(pid: number, state: ListenerState, metadata?: string): string {
  return JSON.stringify({
    ociVersion: SPEC_VERSION,
    fds: ['seccompFd'],
    pid,
    ...(metadata !== undefined ? { metadata } : {}),
    state: {
      ociVersion: SPEC_VERSION,
      id: state.id,
      status: state.status,
      pid,
      bundle: state.bundle,
      ...(state.annotations ? { annotations: state.annotations } : {}),
    },
  });
}

export function sendToListener(listenerPath: string, notifyFd: number, payload: string): void {
  const describe = (err: unknown) => (err instanceof SysError ? `${err.code} (${strerror(err.errno)})` : String(err));
  let socket: number;
  try {
    socket = connectUnix(listenerPath);
  } catch (err) {
    throw wrap(err, `linux.seccomp.listenerPath: cannot connect to ${listenerPath}`, { code: 'system', causeText: describe(err) });
  }
  try {
    sendFd(socket, notifyFd, payload);
  } catch (err) {
    throw wrap(err, `linux.seccomp.listenerPath: sending the notify fd to ${listenerPath}`, { code: 'system', causeText: describe(err) });
  } finally {
    close(socket);
  }
}
