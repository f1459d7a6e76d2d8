// Running a selected command: shared by the entry points (main.ts, and the
// smaller main-*.ts, which bin/ocirun loads for their commands).
import { configureLog, reportError } from '../log.js';
import type { Globals } from './globals.js';
import { parseCommonArgv, type Selected } from './argv.js';

export type Handler = (globals: Globals, args: string[], options: Record<string, unknown>) => Promise<number> | number;
export type CommandTable = Record<string, () => Promise<{ default: Handler }>>;

/** Runs the selected command from `table`; errors become a report and exit code 1. */
export async function runSelected(selected: Selected, table: CommandTable): Promise<number> {
  try {
    configureLog({ file: selected.globals.log, format: selected.globals.logFormat, debug: selected.globals.debug });
    const handler = (await table[selected.name]()).default;
    return await handler(selected.globals, selected.args, selected.options);
  } catch (err) {
    reportError(err);
    return 1;
  }
}

/**
 * The main of an entry with only some commands: the exit code, or null when
 * the command line is not one of them or not plain (help, errors), for the
 * full entry (main.ts) to read.
 */
export function partialEntry(table: CommandTable): (argv: string[]) => Promise<number | null> {
  return async (argv) => {
    const selected = parseCommonArgv(argv);
    if (!selected || !Object.hasOwn(table, selected.name)) return null;
    return runSelected(selected, table);
  };
}
