import { OciError } from '../errors.js';
import type { Globals } from './globals.js';
import { deleteContainer } from '../lifecycle/delete.js';
import { storeFor } from './options.js';

export default function del(globals: Globals, args: string[], o: Record<string, unknown>): number {
  try {
    deleteContainer(storeFor(globals), args[0], !!o.force);
  } catch (err) {
    // runc: deleting a container that does not exist is fine with --force.
    if (o.force && err instanceof OciError && err.code === 'container-not-found') return 0;
    throw err;
  }
  return 0;
}
