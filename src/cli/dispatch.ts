// Running a selected command: shared by both entry points (main.ts, main-light.ts).
import { configureLog, reportError } from '../log.js';
import type { Globals } from '../main.js';
import type { Selected } from './argv.js';

export type Handler = (globals: Globals, args: string[], options: Record<string, unknown>) => Promise<number> | number;
export type CommandTable = Record<string, () => Promise<{ default: Handler }>>;

/** Runs the selected command from `table`; errors become a report and exit code 1. */
export async function runSelected(selected: Selected, table: CommandTable): Promise<number> {
  configureLog({ file: selected.globals.log, format: selected.globals.logFormat, debug: selected.globals.debug });
  try {
    const handler = (await table[selected.name]()).default;
    return await handler(selected.globals, selected.args, selected.options);
  } catch (err) {
    reportError(err);
    return 1;
  }
}
