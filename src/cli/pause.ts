// `pause`: freeze every process of the container (the freezer on cgroup v1, cgroup.freeze on v2).
import type { Globals } from './globals.js';
import { pauseContainer } from '../lifecycle/resources.js';
import { storeFor } from './options.js';

export default function pause(globals: Globals, args: string[]): number {
  pauseContainer(storeFor(globals), args[0]);
  return 0;
}
