import type { Globals } from './globals.js';
import { startContainer } from '../lifecycle/start.js';
import { storeFor } from './options.js';

export default function start(globals: Globals, args: string[]): number {
  const { notify } = startContainer(storeFor(globals), args[0]);
  // As runc's start: back once the container said it is ready (or is gone).
  notify?.waitUntilReady();
  return 0;
}
