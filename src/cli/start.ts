import { notFound } from '../errors.js';
import type { Globals } from '../main.js';
import { startContainer } from '../lifecycle/start.js';
import { storeFor } from './options.js';

export default function start(globals: Globals, args: string[]): number {
  const store = storeFor(globals);
  const [id] = args;
  const lock = store.lock(id);
  try {
    const state = store.read(id);
    if (state === null) throw notFound(id);
    startContainer(store, id, state);
  } finally {
    lock.release();
  }
  return 0;
}
