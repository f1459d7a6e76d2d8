import { notFound } from '../errors.js';
import type { Globals } from './globals.js';
import { publicState } from '../lifecycle/query.js';
import { storeFor, writeOut } from './options.js';

export default function state(globals: Globals, args: string[]): number {
  const store = storeFor(globals);
  const [id] = args;
  const current = store.read(id);
  if (current === null) throw notFound(id);
  writeOut(`${JSON.stringify(publicState(store, current), null, 2)}\n`);
  return 0;
}
