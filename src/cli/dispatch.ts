// Running a selected command: shared by the entry points (main.ts, and the
// smaller main-*.ts, which bin/ocirun loads for their commands).
import { configureLog, reportError } from '../log.js';
import type { Globals } from './globals.js';
import { parseCommonArgv, type Selected } from './argv.js';
import { exitIfLoaded } from '../sys/libc.js';

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
 *
 * With `ownProcess` (bin/ocirun: the process runs this one command), the
 * commands in `synchronous` end it with _exit(2) once they are done, where
 * they loaded the C library anyway. Their work is synchronous from start to
 * end: nothing is left for the event loop, and what they print (errors
 * included, log.ts) is written with write(2) before they return. Node's own
 * exit would only free its heap, join V8's threads and run the C library's
 * exit handlers: 5-10 ms of a create here, more on a loaded machine, where
 * each thread to join waits for the scheduler.
 */
export function partialEntry(table: CommandTable, synchronous: string[] = []): (argv: string[], ownProcess?: boolean) => Promise<number | null> {
  return async (argv, ownProcess = false) => {
    const selected = parseCommonArgv(argv);
    if (!selected || !Object.hasOwn(table, selected.name)) return null;
    const code = await runSelected(selected, table);
    if (ownProcess && synchronous.includes(selected.name)) exitIfLoaded(code);
    return code;
  };
}
