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

/** The highest uid or gid: 4294967295 is (uid_t)-1, which setresuid(2) and setresgid(2) take as "leave unchanged". */
const MAX_ID = 4294967294;

/** A uid or gid given on the command line (--user, --additional-gids). */
export function idArgument(value: string, flag: string): number {
  const n = nonNegativeInt(value, flag);
  if (n > MAX_ID) {
    throw new OciError('usage', `${flag}: ${value} is above ${MAX_ID}, the highest uid or gid (${MAX_ID + 1} is (uid_t)-1, "unchanged" to setresuid(2))`);
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
