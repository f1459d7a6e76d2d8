// Waiting for a container process in the foreground (run, exec), as runc does:
// the signals the caller sends the runtime are passed on to the process, and
// the runtime exits with its status, 128+signal when it was killed.
import { constants } from 'node:os';
import { tryKill, waitpidAsync } from '../sys/libc.js';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

/** Waits for `pid` (a child of this process, or re-parented to it) and returns its exit code. */
export async function waitForwardingSignals(pid: number): Promise<number> {
  const forward = (sig: NodeJS.Signals) => tryKill(pid, constants.signals[sig]);
  for (const sig of FORWARDED) process.on(sig, forward);
  try {
    const status = await waitpidAsync(pid);
    return status & 0x7f ? 128 + (status & 0x7f) : (status >> 8) & 0xff;
  } finally {
    for (const sig of FORWARDED) process.off(sig, forward);
  }
}
