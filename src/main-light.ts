// The entry for start and delete, which an engine runs on every container: a
// bundle of their own without the config validator, seccomp, the mount code
// or commander, so each loads in less time (bin/ocirun picks the bundle).
import { partialEntry } from './cli/dispatch.js';

export const main = partialEntry({
  start: () => import('./cli/start.js'),
  delete: () => import('./cli/delete.js'),
});
