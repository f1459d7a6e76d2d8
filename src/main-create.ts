// The entry for create, run and exec: everything that makes a container
// process, without commander, zod or the other commands (bin/ocirun picks
// the bundle).
import { partialEntry } from './cli/dispatch.js';

export const main = partialEntry({
  create: () => import('./cli/create.js'),
  run: () => import('./cli/run.js'),
  exec: () => import('./cli/exec.js'),
});
