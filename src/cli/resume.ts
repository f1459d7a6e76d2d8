// `resume`: thaw a paused container.
import type { Globals } from './globals.js';
import { resumeContainer } from '../lifecycle/resources.js';
import { storeFor } from './options.js';

export default function resume(globals: Globals, args: string[]): number {
  resumeContainer(storeFor(globals), args[0]);
  return 0;
}
