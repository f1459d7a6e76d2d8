// The entry for create and run: everything that makes a container, without
// commander or the other commands (bin/ocirun picks the bundle). Not
// exec: commander reads its command line (cli/argv.ts leaves it alone).
import { partialEntry } from './cli/dispatch.js';

export const main = partialEntry(
  {
    create: () => import('./cli/create.js'),
    run: () => import('./cli/run.js'),
  },
  ['create'],
);
