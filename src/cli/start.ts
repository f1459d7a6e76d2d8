import { notFound } from '../errors.js';
import type { Globals } from './globals.js';
import { startContainer } from '../lifecycle/start.js';
import type { NotifyRelay } from '../lifecycle/notify.js';
import { storeFor } from './options.js';

export default function start(globals: Globals, args: string[]): number {
  const store = storeFor(globals);
  const [id] = args;
  const lock = store.lock(id);
  let notify: NotifyRelay | null;
  try {
    const state = store.read(id);
    if (state === null) throw notFound(id);
    notify = startContainer(store, id, state).notify;
  } finally {
    lock.release();
  }
  // As runc's start: back once the container said it is ready (or is gone).
  notify?.waitUntilReady();
  return 0;
}
