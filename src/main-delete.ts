// The entry for delete, which an engine runs on every container: a bundle of
// its own, without the config validator, the cgroup drivers, the mount code
// or commander, so it loads in less time (bin/ocirun picks the bundle).
import { partialEntry } from './cli/dispatch.js';

export const main = partialEntry({ delete: () => import('./cli/delete.js') }, ['delete']);
