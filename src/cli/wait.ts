// Waiting for a container process in the foreground (run, exec), as runc does:
// the signals the caller sends the runtime are passed on to the process, and
// the runtime exits with its status, 128+signal when it was killed.
import { WNOHANG, tryKill, waitpid } from '../sys/libc.js';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

/**
 * Passes the signals the caller sends this process on to `pid`, from now
 * until stop(). run starts it before it starts the container: a signal that
 * came once the container runs and before forwarding began would otherwise
 * end the runtime and leave the container behind.
 */
export class SignalForwarder {
  private readonly forward = (sig: NodeJS.Signals) => tryKill(this.pid, sig);
  constructor(private readonly pid: number) {
    for (const sig of FORWARDED) process.on(sig, this.forward);
  }
  stop(): void {
    for (const sig of FORWARDED) process.off(sig, this.forward);
  }
}

/** Waits for `pid` (a child of this process, or re-parented to it) and returns its exit code. */
export async function waitForwardingSignals(pid: number, forwarder = new SignalForwarder(pid)): Promise<number> {
  try {
    const status = await exitOf(pid);
    return status & 0x7f ? 128 + (status & 0x7f) : (status >> 8) & 0xff;
  } finally {
    forwarder.stop();
  }
}

/**
 * The wait status of `pid`, reaped on the SIGCHLD that says it changed. Not
 * waitpid on a worker: starting libuv's thread pool costs a few ms. The timer
 * keeps the event loop alive (a signal listener does not) and checks again
 * now and then, should a SIGCHLD come before the listener is in place.
 */
function exitOf(pid: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = () => {
      try {
        const [reaped, status] = waitpid(pid, WNOHANG);
        if (reaped !== pid) return;
        done();
        resolve(status);
      } catch (err) {
        done();
        reject(err);
      }
    };
    const timer = setInterval(check, 1000);
    const done = () => {
      clearInterval(timer);
      process.off('SIGCHLD', check);
    };
    process.on('SIGCHLD', check);
    check();
  });
}
