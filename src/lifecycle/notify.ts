// systemd's readiness protocol (sd_notify(3)) through the container, as runc
// does: with NOTIFY_SOCKET in create's environment, the container gets a
// socket at that same path and NOTIFY_SOCKET in its own environment, and what
// it sends there up to READY=1 is passed on to the caller's socket, with
// MAINPID= naming the container's init.
//
// Nothing of ocirun stays between create and start, nor after start: create
// makes an empty directory in the container's state directory and bind-mounts
// it (read-only: a socket is written to through a read-only mount all the
// same) over the socket's directory in the container; start binds the socket
// in it before it releases the init, and returns once READY=1 was passed on
// or the container is gone (`run` in the foreground passes messages on while
// it waits for the container). Messages sent after READY=1 find no socket.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { warn } from '../log.js';
import type { Spec } from '../spec/types.js';
import type { ContainerState, Store } from '../state/store.js';
import { POLLIN, bindUnixDatagram, close, pollOne, receiveDatagram, sendDatagram } from '../sys/libc.js';
import { isSameLiveProcess } from '../sys/proc.js';
import { messageOf } from '../errors.js';

const VARIABLE = 'NOTIFY_SOCKET';

function socketDir(store: Store, id: string): string {
  return path.join(store.dir(id), 'notify');
}

/**
 * create: the config the init gets (the socket's directory mounted, the
 * variable set) and the caller's socket to record in the state; the config
 * unchanged without NOTIFY_SOCKET or without a process.
 */
export function prepareNotifySocket(store: Store, id: string, config: Spec): { config: Spec; notifySocket?: string } {
  const caller = process.env[VARIABLE];
  if (!caller || !config.process) return { config };
  if (!path.isAbsolute(caller)) {
    warn(`${VARIABLE}=${caller} is not an absolute path: the container does not get a notify socket`);
    return { config };
  }
  // Its init could not reach the state directory (mode 0700, the host's root's) to bind it.
  if ((config.linux?.namespaces ?? []).some((ns) => ns.type === 'user')) {
    warn(`${VARIABLE}: a container in a user namespace does not get a notify socket`);
    return { config };
  }
  const dir = socketDir(store, id);
  mkdirSync(dir, { mode: 0o755 });
  const env = (config.process.env ?? []).filter((e) => !e.startsWith(`${VARIABLE}=`));
  return {
    config: {
      ...config,
      mounts: [
        ...(config.mounts ?? []),
        { destination: path.dirname(caller), type: 'bind', source: dir, options: ['bind', 'nosuid', 'nodev', 'noexec', 'ro'] },
      ],
      process: { ...config.process, env: [...env, `${VARIABLE}=${caller}`] },
    },
    notifySocket: caller,
  };
}

/** start: the container's end of the protocol, bound before the init is released. */
export class NotifyRelay {
  private fd: number;
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly socketPath: string,
    private readonly caller: string,
    private readonly state: ContainerState,
  ) {
    rmSync(socketPath, { force: true }); // from a start that failed
    this.fd = bindUnixDatagram(socketPath);
    // Any user of the container may notify, as with systemd's own socket.
    chmodSync(socketPath, 0o777);
  }

  static open(store: Store, state: ContainerState): NotifyRelay | null {
    if (!state.notifySocket) return null;
    return new NotifyRelay(path.join(socketDir(store, state.id), path.basename(state.notifySocket)), state.notifySocket, state);
  }

  /** Blocks until READY=1 was passed on, or the container is gone. */
  waitUntilReady(): void {
    try {
      while (!this.passOn() && this.containerAlive()) pollOne(this.fd, POLLIN, 100);
    } finally {
      this.close();
    }
  }

  /** The same from the event loop, for a caller that must also do other work meanwhile. */
  passOnInBackground(): void {
    this.timer = setInterval(() => {
      if (this.passOn() || !this.containerAlive()) this.close();
    }, 50);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd < 0) return;
    close(this.fd);
    this.fd = -1;
    rmSync(this.socketPath, { force: true });
  }

  /**
   * Passes on the READY=1 and STATUS= lines of every waiting message; true
   * once one said READY=1. Nothing else: the caller's socket takes them with
   * root's authority over its unit (sd_notify(3): MAINPID, FDSTORE,
   * NOTIFYACCESS, EXTEND_TIMEOUT_USEC, ...), and the main pid is the init's,
   * which ocirun adds itself.
   */
  private passOn(): boolean {
    for (let message = receiveDatagram(this.fd); message !== null; message = receiveDatagram(this.fd)) {
      const lines = message
        .toString()
        .split('\n')
        .filter((line) => line === 'READY=1' || line.startsWith('STATUS='));
      const ready = lines.includes('READY=1');
      if (ready) lines.push(`MAINPID=${this.state.pid}`);
      if (lines.length === 0) continue;
      const out = Buffer.from(lines.join('\n'));
      try {
        sendDatagram(this.fd, this.caller, out);
      } catch (err) {
        warn(`${VARIABLE} ${this.caller}: ${messageOf(err)}`);
      }
      if (ready) return true;
    }
    return false;
  }

  private containerAlive(): boolean {
    return isSameLiveProcess(this.state.pid, this.state.initStartTime);
  }
}
