// The second entry point: state, start, kill, delete and list, the commands
// an engine calls on every container, in a bundle of their own without the
// config validator, seccomp, the mount code or commander, so each loads in
// less time (bin/ocirun picks the bundle). A command line it does not fully
// read (help, errors, any other command) goes to the full entry, main.ts.
import { parseCommonArgv } from './cli/argv.js';
import { runSelected, type CommandTable } from './cli/dispatch.js';

export const LIGHT_COMMANDS: CommandTable = {
  state: () => import('./cli/state.js'),
  start: () => import('./cli/start.js'),
  kill: () => import('./cli/kill.js'),
  delete: () => import('./cli/delete.js'),
  list: () => import('./cli/list.js'),
};

/** The exit code, or null when the full entry must read this command line. */
export async function main(argv: string[]): Promise<number | null> {
  const selected = parseCommonArgv(argv);
  if (!selected || !Object.hasOwn(LIGHT_COMMANDS, selected.name)) return null;
  return runSelected(selected, LIGHT_COMMANDS);
}
