import type { Globals } from './globals.js';
import { signalContainer } from '../lifecycle/kill.js';
import { parseSignal } from '../signals.js';
import { storeFor } from './options.js';

export default function kill(globals: Globals, args: string[], o: Record<string, unknown>): number {
  const [id, signal = 'SIGTERM'] = args;
  const number = parseSignal(signal);
  signalContainer(storeFor(globals), id, number, !!o.all);
  return 0;
}
