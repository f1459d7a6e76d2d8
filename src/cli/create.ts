import type { Globals } from './globals.js';
import { createContainer, type CreateOptions } from '../lifecycle/create.js';
import { parseShare } from '../lifecycle/share.js';
import { listenFdCount } from '../process/fds.js';
import { preservedFds, storeFor } from './options.js';

export function createOptions(args: string[], o: Record<string, unknown>, globals?: Globals): CreateOptions {
  return {
    id: args[0],
    bundle: String(o.bundle ?? '.'),
    pidFile: o.pidFile as string | undefined,
    consoleSocket: o.consoleSocket as string | undefined,
    noPivot: o.pivot === false,
    noNewKeyring: o.newKeyring === false,
    preserveFds: preservedFds(o.preserveFds, listenFdCount()),
    systemdCgroup: globals?.systemdCgroup,
    share: ((o.share as string[] | undefined) ?? []).map(parseShare),
  };
}

export default function create(globals: Globals, args: string[], o: Record<string, unknown>): number {
  createContainer(storeFor(globals), createOptions(args, o, globals)).release();
  return 0;
}
