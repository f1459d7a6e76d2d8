// `run`: create and start in one process; in the foreground, wait for the
// container, pass on the signals the caller sends us, delete it (unless
// --keep), and exit with its status (128+signal when it was killed), as runc does.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Globals } from './globals.js';
import { createContainer } from '../lifecycle/create.js';
import { deleteContainer } from '../lifecycle/delete.js';
import { startLocked } from '../lifecycle/start.js';
import type { NotifyRelay } from '../lifecycle/notify.js';
import { PR, prctl } from '../sys/libc.js';
import { SignalForwarder, waitForwardingSignals } from './wait.js';
import { createOptions } from './create.js';
import { attachConsole, storeFor } from './options.js';

export default async function run(globals: Globals, args: string[], o: Record<string, unknown>): Promise<number> {
  const store = storeFor(globals);
  const opts = createOptions(args, o, globals);
  // An init made by a second fork (joined namespaces) is re-parented to us.
  if (!o.detach) prctl(PR.SET_CHILD_SUBREAPER, 1);
  const attach = !o.detach && !opts.consoleSocket && wantsTerminal(opts.bundle) ? await attachConsole() : null;
  if (attach) opts.consoleSocket = attach.initEnd;
  // create's lock is held until the start is done: no other command comes in between.
  const created = createContainer(store, opts);
  const { state } = created;
  attach?.attach();
  const forwarder = o.detach ? null : new SignalForwarder(state.pid);
  let notify: NotifyRelay | null;
  try {
    notify = startLocked(store, created).notify;
  } catch (err) {
    forwarder?.stop();
    created.release();
    // A failed poststart hook has destroyed the container already; --keep keeps it otherwise, as runc does.
    if (!o.keep && store.exists(opts.id)) deleteContainer(store, opts.id, true);
    throw err;
  }
  created.release();
  if (!forwarder) {
    notify?.waitUntilReady();
    return 0;
  }
  notify?.passOnInBackground();
  const code = await waitForwardingSignals(state.pid, forwarder);
  notify?.close();
  await attach?.detach();
  if (!o.keep) deleteContainer(store, opts.id, true);
  return code;
}

/** A peek at process.terminal; the full validation happens in create. */
function wantsTerminal(bundle: string): boolean {
  try {
    return JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8'))?.process?.terminal === true;
  } catch {
    return false;
  }
}
