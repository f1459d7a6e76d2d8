import type { Globals } from './globals.js';
import { openContainer } from '../lifecycle/container.js';
import { publicState } from '../lifecycle/query.js';
import { storeFor, writeOut } from './options.js';

export default function state(globals: Globals, args: string[]): number {
  const [id] = args;
  writeOut(`${JSON.stringify(publicState(openContainer(storeFor(globals), id)), null, 2)}\n`);
  return 0;
}
