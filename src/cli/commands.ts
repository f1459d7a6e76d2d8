// runc's command line as data: the global flags and every command with its
// arguments and options. cli/program.ts builds the full commander parser
// (help, errors) from it; cli/argv.ts reads the common, well-formed command
// lines from it without loading commander at all.

export interface OptionSpec {
  /** commander's flags syntax: '-b, --bundle <dir>', '--debug', '--no-pivot'. */
  flags: string;
  description: string;
  default?: string;
  choices?: readonly string[];
  /** Repeatable: every value is collected into an array. */
  repeatable?: boolean;
}

export interface CommandSpec {
  description: string;
  /** commander's argument syntax: '<container-id>', '[signal]', '[command...]'. */
  arguments?: { name: string; description?: string; default?: string }[];
  options?: OptionSpec[];
  /** Options after the first argument belong to the argument list (exec, ps). */
  passThroughOptions?: boolean;
  allowUnknownOption?: boolean;
}

import { DEFAULT_ROOT } from '../state/store.js';

export const PROGRAM_DESCRIPTION = "Run containers from OCI bundles (runtime-spec v1.3.0), with runc's command line.";

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { flags: '--root <dir>', description: 'directory for container state (tmpfs recommended)', default: DEFAULT_ROOT },
  { flags: '--log <file>', description: 'write log messages (and errors) to this file' },
  { flags: '--log-format <format>', description: 'log format', choices: ['text', 'json'], default: 'text' },
  { flags: '--debug', description: 'log debug messages' },
  { flags: '--systemd-cgroup', description: 'manage cgroups through systemd (slice:prefix:name paths)' },
];

const containerId = { name: '<container-id>' };

const createOptions: OptionSpec[] = [
  { flags: '-b, --bundle <dir>', description: 'path to the bundle (the directory holding config.json)', default: '.' },
  { flags: '--console-socket <path>', description: 'unix socket that receives the pty master when process.terminal is true' },
  { flags: '--pid-file <file>', description: 'write the init process pid to this file' },
  { flags: '--no-pivot', description: 'use MS_MOVE and chroot instead of pivot_root (for a rootfs on ramfs)' },
  { flags: '--no-new-keyring', description: 'do not create a new session keyring for the container' },
  { flags: '--preserve-fds <n>', description: 'pass this many extra fds (from fd 3 on) to the container', default: '0' },
  {
    flags: '--share <types=id>',
    description: 'ocirun extension: join these namespaces of another container under the same --root, e.g. net,ipc,uts=infra (repeatable)',
    repeatable: true,
  },
];

export const COMMANDS: Record<string, CommandSpec> = {
  create: { description: 'create a container', arguments: [containerId], options: createOptions },
  start: { description: 'start a created container', arguments: [containerId] },
  state: { description: 'print the state of a container as JSON', arguments: [containerId] },
  kill: {
    description: "send a signal (default SIGTERM) to the container's init",
    arguments: [containerId, { name: '[signal]', description: 'name (KILL or SIGKILL) or number', default: 'SIGTERM' }],
    options: [{ flags: '-a, --all', description: 'signal every process of the container' }],
  },
  delete: {
    description: 'delete a container and everything it holds',
    arguments: [containerId],
    options: [{ flags: '-f, --force', description: 'kill it first if it is running' }],
  },
  run: {
    description: 'create and start a container, and wait for it unless --detach',
    arguments: [containerId],
    options: [
      ...createOptions,
      { flags: '-d, --detach', description: 'return once the container has started' },
      { flags: '--keep', description: 'do not delete the container after it exits (it stays, stopped, until delete)' },
    ],
  },
  list: {
    description: 'list the containers under --root',
    options: [
      { flags: '-f, --format <format>', description: 'output format', choices: ['table', 'json'], default: 'table' },
      { flags: '-q, --quiet', description: 'print only the ids' },
    ],
  },
  exec: {
    description: 'run a process in a running container',
    arguments: [containerId, { name: '[command...]', description: 'the command and its arguments (unless --process)' }],
    options: [
      { flags: '-p, --process <file>', description: 'process.json with the whole process spec' },
      { flags: '-d, --detach', description: 'return once the process has started' },
      { flags: '--pid-file <file>', description: 'write the process pid to this file' },
      { flags: '--console-socket <path>', description: 'unix socket that receives the pty master with --tty' },
      { flags: '-t, --tty', description: 'give the process a terminal' },
      { flags: '--cwd <dir>', description: 'working directory in the container' },
      { flags: '-e, --env <NAME=value>', description: 'add an environment variable (repeatable)', repeatable: true },
      { flags: '-u, --user <uid[:gid]>', description: 'user to run as' },
      { flags: '-g, --additional-gids <gid>', description: 'add a supplementary group (repeatable)', repeatable: true },
      { flags: '-c, --cap <CAP_NAME>', description: 'add a capability (repeatable)', repeatable: true },
      { flags: '--no-new-privs', description: 'set no_new_privs for the process' },
      { flags: '--apparmor <profile>', description: 'AppArmor profile for the process' },
      { flags: '--process-label <label>', description: 'SELinux label for the process' },
      { flags: '--preserve-fds <n>', description: 'pass this many extra fds (from fd 3 on)', default: '0' },
      {
        flags: '--cgroup <[controller[,controller...]:]path>',
        description: "run the process in an existing sub-cgroup of the container's (repeatable per controller on cgroup v1)",
        repeatable: true,
      },
    ],
    passThroughOptions: true,
  },
  features: { description: 'print what this runtime supports (runtime-spec features.md JSON)' },
  update: {
    description: "change the resource limits of a container (runc's flags, or -r with a JSON LinuxResources)",
    arguments: [containerId],
    options: [
      { flags: '-r, --resources <file>', description: 'read a JSON LinuxResources from FILE, or - for the standard input (other flags are then ignored)' },
      { flags: '--blkio-weight <weight>', description: 'block IO weight, 10 to 1000' },
      { flags: '--cpu-period <usecs>', description: 'CPU CFS period (0 leaves it unchanged)' },
      { flags: '--cpu-quota <usecs>', description: 'CPU CFS quota per period, -1 for no limit' },
      { flags: '--cpu-share <shares>', description: 'CPU shares (weight relative to other containers)' },
      { flags: '--cpu-shares <shares>', description: 'the same as --cpu-share' },
      { flags: '--cpu-rt-period <usecs>', description: 'real-time scheduling period' },
      { flags: '--cpu-rt-runtime <usecs>', description: 'real-time scheduling runtime per period' },
      { flags: '--cpuset-cpus <list>', description: 'CPUs to use, e.g. 0-2,4' },
      { flags: '--cpuset-mems <list>', description: 'memory nodes to use' },
      { flags: '--cpu-idle <0|1>', description: '1 for SCHED_IDLE' },
      { flags: '--memory <bytes>', description: 'memory limit (512k, 16M, 1g; -1 for none)' },
      { flags: '--memory-reservation <bytes>', description: 'memory soft limit' },
      { flags: '--memory-swap <bytes>', description: 'memory+swap limit; -1 for unlimited swap' },
      { flags: '--kernel-memory <bytes>', description: 'kernel memory limit (obsolete; cgroup v1 only)' },
      { flags: '--kernel-memory-tcp <bytes>', description: 'kernel TCP buffer limit (obsolete; cgroup v1 only)' },
      { flags: '--pids-limit <n>', description: 'maximum number of tasks, -1 for no limit' },
    ],
  },
  pause: { description: 'freeze every process of a container', arguments: [containerId] },
  resume: { description: 'thaw a paused container', arguments: [containerId] },
  ps: {
    description: "list the processes of a container (table: through the host's ps with [ps options], default -ef)",
    arguments: [containerId, { name: '[ps-options...]', description: 'options for ps(1)' }],
    options: [{ flags: '-f, --format <format>', description: 'output format', choices: ['table', 'json'], default: 'table' }],
    allowUnknownOption: true,
    passThroughOptions: true,
  },
  events: {
    description: 'print statistics and OOM events of a container as JSON lines',
    arguments: [containerId],
    options: [
      { flags: '--interval <duration>', description: 'time between statistics, e.g. 5s or 500ms', default: '5s' },
      { flags: '--stats', description: 'print the statistics once and exit' },
    ],
  },
  spec: {
    description: 'write a starter config.json into the bundle',
    options: [
      { flags: '-b, --bundle <dir>', description: 'bundle directory to write config.json into', default: '.' },
      { flags: '--rootless', description: 'a config for running without root (user namespace)' },
    ],
  },
};
