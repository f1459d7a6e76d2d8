// ocirun's command line: runc's global flags and commands (cli/commands.ts).
// A plain command line is read by cli/argv.ts; anything else (help, errors)
// by commander, loaded only then. Each command's code is loaded only when
// that command runs. The other src/main-*.ts are entries with only the commands
// engines call on every container, bundled on their own (see bin/ocirun).
import { configureLog, reportError } from './log.js';
import { parseCommonArgv, type Selected } from './cli/argv.js';
import { runSelected, type CommandTable } from './cli/dispatch.js';

const commands: CommandTable = {
  create: () => import('./cli/create.js'),
  start: () => import('./cli/start.js'),
  state: () => import('./cli/state.js'),
  kill: () => import('./cli/kill.js'),
  delete: () => import('./cli/delete.js'),
  run: () => import('./cli/run.js'),
  list: () => import('./cli/list.js'),
  spec: () => import('./cli/spec.js'),
  exec: () => import('./cli/exec.js'),
  features: () => import('./cli/features.js'),
  update: () => import('./cli/update.js'),
  pause: () => import('./cli/pause.js'),
  resume: () => import('./cli/resume.js'),
  ps: () => import('./cli/ps.js'),
  events: () => import('./cli/events.js'),
};

/** The command to run, or the exit code once help, --version or a usage error is dealt with. */
async function select(argv: string[]): Promise<Selected | number> {
  const common = parseCommonArgv(argv);
  if (common) return common;
  try {
    const parsed = (await import('./cli/program.js')).parseWithCommander(argv);
    if ('selected' in parsed) return parsed.selected;
    if (parsed.usageError) {
      configureLog({ file: parsed.globals?.log, format: parsed.globals?.logFormat ?? 'text', debug: !!parsed.globals?.debug });
      reportError(parsed.usageError);
    }
    return parsed.exit;
  } catch (err) {
    reportError(err);
    return 1;
  }
}

export async function main(argv: string[]): Promise<number> {
  const selected = await select(argv);
  if (typeof selected === 'number') return selected;
  return runSelected(selected, commands);
}
