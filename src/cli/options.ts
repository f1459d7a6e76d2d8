// Parsing and checking command arguments, so every handler gets typed values
// and bad input fails with one line naming the argument.
import { Store } from '../state/store.js';
import { OciError } from '../errors.js';
import type { Globals } from '../main.js';

export function storeFor(globals: Globals): Store {
  return new Store(globals.root);
}

export function nonNegativeInt(value: unknown, flag: string): number {
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new OciError('usage', `${flag}: ${JSON.stringify(value)} is not a non-negative integer`);
  }
  return n;
}

export function writeOut(text: string): void {
  process.stdout.write(text);
}
