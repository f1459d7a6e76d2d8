// Parsing and checking command arguments, so every handler gets typed values
// and bad input fails with one line naming the argument.
import { writeSync } from 'node:fs';
import { Store, checkRootDir } from '../state/store.js';
import { sleepMs } from '../sys/proc.js';
import { OciError } from '../errors.js';
import { checkPassedFds } from '../process/fds.js';
import type { Globals } from './globals.js';
import type { ConsoleAttach } from './console-attach.js';

export function storeFor(globals: Globals): Store {
  checkRootDir(globals.root);
  return new Store(globals.root);
}

/** run/exec holding the console themselves. Loaded only then: node:tty brings in net and streams, ~10 ms. */
export async function attachConsole(): Promise<ConsoleAttach> {
  return new (await import('./console-attach.js')).ConsoleAttach();
}

export function nonNegativeInt(value: unknown, flag: string): number {
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new OciError('usage', `${flag}: ${JSON.stringify(value)} is not a non-negative integer`);
  }
  return n;
}

/**
 * --preserve-fds N, checked against the fds the caller really passed (with
 * systemd's listening sockets ahead of them): before the command opens
 * anything, so that no fd of ocirun's own can pass for one of them.
 */
export function preservedFds(value: unknown, listenFds: number): number {
  const count = nonNegativeInt(value ?? '0', '--preserve-fds');
  const what = listenFds > 0 ? `LISTEN_FDS=${listenFds} and --preserve-fds ${count}` : `--preserve-fds ${count}`;
  checkPassedFds(listenFds + count, what);
  return count;
}

/**
 * Straight to fd 1: process.stdout would load Node's stream and net modules
 * (for a pipe, as containerd gives) only to print one line. An inherited
 * non-blocking pipe that is full answers EAGAIN: wait and write the rest.
 */
export function writeOut(text: string): void {
  let data = Buffer.from(text);
  while (data.length > 0) {
    try {
      data = data.subarray(writeSync(1, data));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      sleepMs(1);
    }
  }
}
