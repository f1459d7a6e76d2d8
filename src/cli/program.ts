// The full command line through commander, built from cli/commands.ts: help,
// --version and every usage error. Loaded only for what cli/argv.ts leaves.
import { Command, CommanderError, Option } from 'commander';
import { OciError } from '../errors.js';
import { globalsFrom, type Globals } from './globals.js';
import { VERSION_TEXT } from '../version.js';
import { COMMANDS, GLOBAL_OPTIONS, PROGRAM_DESCRIPTION, type OptionSpec } from './commands.js';
import type { Selected } from './argv.js';

const quiet = { writeErr: () => {}, outputError: () => {} };
const collect = (value: string, previous: string[] = []) => [...previous, value];

function addOption(cmd: Command, spec: OptionSpec): void {
  const option = new Option(spec.flags, spec.description);
  if (spec.choices) option.choices(spec.choices);
  if (spec.repeatable) option.argParser(collect);
  if (spec.default !== undefined) option.default(spec.default);
  cmd.addOption(option);
}

function buildProgram(onCommand: (selected: Selected) => void): Command {
  const program = new Command('ocirun').description(PROGRAM_DESCRIPTION).version(VERSION_TEXT, '-v, --version', 'print the version');
  for (const spec of GLOBAL_OPTIONS) addOption(program, spec);
  program.enablePositionalOptions().showSuggestionAfterError(false).exitOverride().configureOutput(quiet);

  for (const [name, spec] of Object.entries(COMMANDS)) {
    const cmd = program.command(name).description(spec.description);
    for (const a of spec.arguments ?? []) cmd.argument(a.name, a.description, a.default);
    for (const o of spec.options ?? []) addOption(cmd, o);
    if (spec.allowUnknownOption) cmd.allowUnknownOption();
    if (spec.passThroughOptions) cmd.passThroughOptions();
    cmd.exitOverride().configureOutput(quiet);
    cmd.action((...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      onCommand({ name, args: command.args, options: command.opts(), globals: globalsFrom(program.opts()) });
    });
  }
  return program;
}

export type Parsed = { selected: Selected } | { exit: number; usageError?: OciError; globals?: Partial<Globals> };

/**
 * The command to run, or how to exit: 0 after help or --version (printed
 * here), 1 with the usage error to report.
 */
export function parseWithCommander(argv: string[]): Parsed {
  let selected: Selected | undefined;
  const program = buildProgram((s) => {
    selected = s;
  });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.version' || err.code === 'commander.helpDisplayed' || err.code === 'commander.help') {
        return { exit: 0 };
      }
      const o = program.opts();
      return {
        exit: 1,
        usageError: new OciError('usage', err.message.replace(/^error: /, '')),
        globals: { log: o.log, logFormat: o.logFormat === 'json' ? 'json' : 'text', debug: !!o.debug },
      };
    }
    throw err;
  }
  if (!selected) {
    process.stdout.write(program.helpInformation());
    return { exit: 0 };
  }
  return { selected };
}
