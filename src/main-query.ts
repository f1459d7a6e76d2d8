// The entry for state, kill and list: the smallest bundle (no cgroup
// managers, no hooks), for the commands engines call most often.
import { partialEntry } from './cli/dispatch.js';

export const main = partialEntry(
  {
    state: () => import('./cli/state.js'),
    kill: () => import('./cli/kill.js'),
    list: () => import('./cli/list.js'),
  },
  ['state', 'kill', 'list'],
);
