// ocirun's command line: runc's global flags and commands. Each command's
// code is loaded only when that command runs, so `state` never pays for the
// config validator or the mount code.
import { Command, CommanderError, Option } from 'commander';
import { enum as zenum, object, optional, string, boolean } from 'zod/mini';
import { OciError } from './errors.js';
import { configureLog, reportError } from './log.js';
import { DEFAULT_ROOT } from './state/store.js';
import { VERSION_TEXT } from './version.js';

const GlobalOptions = object({
  root: string(),
  log: optional(string()),
  logFormat: zenum(['text', 'json']),
  debug: optional(boolean()),
  systemdCgroup: optional(boolean()),
});
export interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
}

type Handler = (globals: Globals, args: string[], options: Record<string, unknown>) => Promise<number> | number;

const commands: Record<string, () => Promise<{ default: Handler }>> = {
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

function buildProgram(onCommand: (name: string, args: string[], options: Record<string, unknown>, globals: Globals) => void): Command {
  const program = new Command('ocirun')
    .description('Run containers from OCI bundles (runtime-spec v1.3.0), with runc\'s command line.')
    .version(VERSION_TEXT, '-v, --version', 'print the version')
    .option('--root <dir>', 'directory for container state (tmpfs recommended)', DEFAULT_ROOT)
    .option('--log <file>', 'write log messages (and errors) to this file')
    .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
    .option('--debug', 'log debug messages')
    .option('--systemd-cgroup', 'manage cgroups through systemd (slice:prefix:name paths)')
    .enablePositionalOptions()
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({ writeErr: () => {}, outputError: () => {} });

  const add = (name: string, describe: (cmd: Command) => Command) => {
    const cmd = describe(program.command(name)).exitOverride().configureOutput({ writeErr: () => {}, outputError: () => {} });
    cmd.action((...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      const options = command.opts();
      const args = command.args;
      onCommand(name, args, options, readGlobals(program));
    });
  };

  const collect = (value: string, previous: string[] = []) => [...previous, value];
  const createFlags = (cmd: Command) =>
    cmd
      .option('-b, --bundle <dir>', 'path to the bundle (the directory holding config.json)', '.')
      .option('--console-socket <path>', 'unix socket that receives the pty master when process.terminal is true')
      .option('--pid-file <file>', 'write the init process pid to this file')
      .option('--no-pivot', 'use MS_MOVE and chroot instead of pivot_root (for a rootfs on ramfs)')
      .option('--no-new-keyring', 'do not create a new session keyring for the container')
      .option('--preserve-fds <n>', 'pass this many extra fds (from fd 3 on) to the container', '0')
      .option(
        '--share <types=id>',
        'ocirun extension: join these namespaces of another container under the same --root, e.g. net,ipc,uts=infra (repeatable)',
        collect,
      );

  add('create', (c) => createFlags(c.description('create a container').argument('<container-id>')));
  add('start', (c) => c.description('start a created container').argument('<container-id>'));
  add('state', (c) => c.description('print the state of a container as JSON').argument('<container-id>'));
  add('kill', (c) =>
    c
      .description('send a signal (default SIGTERM) to the container\'s init')
      .argument('<container-id>')
      .argument('[signal]', 'name (KILL or SIGKILL) or number', 'SIGTERM')
      .option('-a, --all', 'signal every process of the container'),
  );
  add('delete', (c) =>
    c.description('delete a container and everything it holds').argument('<container-id>').option('-f, --force', 'kill it first if it is running'),
  );
  add('run', (c) =>
    createFlags(c.description('create and start a container, and wait for it unless --detach').argument('<container-id>')).option(
      '-d, --detach',
      'return once the container has started',
    ),
  );
  add('list', (c) =>
    c
      .description('list the containers under --root')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
      .option('-q, --quiet', 'print only the ids'),
  );
  add('exec', (c) =>
    c
      .description('run a process in a running container')
      .argument('<container-id>')
      .argument('[command...]', 'the command and its arguments (unless --process)')
      .option('-p, --process <file>', 'process.json with the whole process spec')
      .option('-d, --detach', 'return once the process has started')
      .option('--pid-file <file>', 'write the process pid to this file')
      .option('--console-socket <path>', 'unix socket that receives the pty master with --tty')
      .option('-t, --tty', 'give the process a terminal')
      .option('--cwd <dir>', 'working directory in the container')
      .option('-e, --env <NAME=value>', 'add an environment variable (repeatable)', collect)
      .option('-u, --user <uid[:gid]>', 'user to run as')
      .option('-g, --additional-gids <gid>', 'add a supplementary group (repeatable)', collect)
      .option('-c, --cap <CAP_NAME>', 'add a capability (repeatable)', collect)
      .option('--no-new-privs', 'set no_new_privs for the process')
      .option('--apparmor <profile>', 'AppArmor profile for the process')
      .option('--process-label <label>', 'SELinux label for the process')
      .option('--preserve-fds <n>', 'pass this many extra fds (from fd 3 on)', '0')
      .passThroughOptions(),
  );
  add('features', (c) => c.description('print what this runtime supports (runtime-spec features.md JSON)'));
  add('update', (c) =>
    c
      .description('change the resource limits of a container (runc\'s flags, or -r with a JSON LinuxResources)')
      .argument('<container-id>')
      .option('-r, --resources <file>', 'read a JSON LinuxResources from FILE, or - for the standard input (other flags are then ignored)')
      .option('--blkio-weight <weight>', 'block IO weight, 10 to 1000')
      .option('--cpu-period <usecs>', 'CPU CFS period (0 leaves it unchanged)')
      .option('--cpu-quota <usecs>', 'CPU CFS quota per period, -1 for no limit')
      .option('--cpu-share <shares>', 'CPU shares (weight relative to other containers)')
      .option('--cpu-shares <shares>', 'the same as --cpu-share')
      .option('--cpu-rt-period <usecs>', 'real-time scheduling period')
      .option('--cpu-rt-runtime <usecs>', 'real-time scheduling runtime per period')
      .option('--cpuset-cpus <list>', 'CPUs to use, e.g. 0-2,4')
      .option('--cpuset-mems <list>', 'memory nodes to use')
      .option('--cpu-idle <0|1>', '1 for SCHED_IDLE')
      .option('--memory <bytes>', 'memory limit (512k, 16M, 1g; -1 for none)')
      .option('--memory-reservation <bytes>', 'memory soft limit')
      .option('--memory-swap <bytes>', 'memory+swap limit; -1 for unlimited swap')
      .option('--kernel-memory <bytes>', 'kernel memory limit (obsolete; cgroup v1 only)')
      .option('--kernel-memory-tcp <bytes>', 'kernel TCP buffer limit (obsolete; cgroup v1 only)')
      .option('--pids-limit <n>', 'maximum number of tasks, -1 for no limit'),
  );
  add('pause', (c) => c.description('freeze every process of a container').argument('<container-id>'));
  add('resume', (c) => c.description('thaw a paused container').argument('<container-id>'));
  add('ps', (c) =>
    c
      .description('list the processes of a container (table: through the host\'s ps with [ps options], default -ef)')
      .argument('<container-id>')
      .argument('[ps-options...]', 'options for ps(1)')
      .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
      .allowUnknownOption()
      .passThroughOptions(),
  );
  add('events', (c) =>
    c
      .description('print statistics and OOM events of a container as JSON lines')
      .argument('<container-id>')
      .option('--interval <duration>', 'time between statistics, e.g. 5s or 500ms', '5s')
      .option('--stats', 'print the statistics once and exit'),
  );
  add('spec', (c) =>
    c
      .description('write a starter config.json into the bundle')
      .option('-b, --bundle <dir>', 'bundle directory to write config.json into', '.')
      .option('--rootless', 'a config for running without root (user namespace)'),
  );
  return program;
}

function readGlobals(program: Command): Globals {
  const parsed = GlobalOptions.safeParse(program.opts());
  if (!parsed.success) throw new OciError('usage', `invalid global option: ${parsed.error.issues[0].message}`);
  const g = parsed.data;
  return { root: g.root, log: g.log, logFormat: g.logFormat, debug: !!g.debug, systemdCgroup: !!g.systemdCgroup };
}

function usageError(err: CommanderError): OciError {
  return new OciError('usage', err.message.replace(/^error: /, ''));
}

export async function main(argv: string[]): Promise<number> {
  let selected: { name: string; args: string[]; options: Record<string, unknown>; globals: Globals } | undefined;
  const program = buildProgram((name, args, options, globals) => {
    selected = { name, args, options, globals };
  });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.version' || err.code === 'commander.helpDisplayed' || err.code === 'commander.help') {
        return 0;
      }
      configureLogFrom(program);
      reportError(usageError(err));
      return 1;
    }
    reportError(err);
    return 1;
  }
  if (!selected) {
    process.stdout.write(program.helpInformation());
    return 0;
  }
  configureLog({ file: selected.globals.log, format: selected.globals.logFormat, debug: selected.globals.debug });
  try {
    const handler = (await commands[selected.name]()).default;
    return await handler(selected.globals, selected.args, selected.options);
  } catch (err) {
    reportError(err);
    return 1;
  }
}

function configureLogFrom(program: Command): void {
  const o = program.opts();
  configureLog({ file: o.log, format: o.logFormat === 'json' ? 'json' : 'text', debug: !!o.debug });
}
