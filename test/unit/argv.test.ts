// The fast reader of common command lines (cli/argv.ts) must select exactly
// what commander selects, and leave everything else to commander.
import { describe, expect, test } from 'vitest';
import { parseCommonArgv } from '../../src/cli/argv.js';
import { parseWithCommander } from '../../src/cli/program.js';

const g = ['--root', '/tmp/r'];
// What containerd's shim, podman (conmon) and the tests send.
const common: string[][] = [
  [...g, 'create', '--bundle', '/b', '--pid-file', '/p', 'id1'],
  [...g, '--log', '/l', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/p', '--console-socket', '/s', 'id1'],
  ['--root=/tmp/r', '--log=/l', '--log-format=json', '--systemd-cgroup', 'create', '-b', '/b', 'id1'],
  [...g, 'create', 'id1', '--bundle=/b', '--no-pivot', '--no-new-keyring', '--preserve-fds', '2'],
  [...g, '--debug', 'start', 'id1'],
  [...g, 'state', 'id1'],
  ['state', 'id1'],
  [...g, 'kill', 'id1'],
  [...g, 'kill', 'id1', 'KILL'],
  [...g, 'kill', '--all', 'id1', '9'],
  [...g, 'kill', 'id1', '-a', 'SIGKILL'],
  [...g, 'delete', 'id1'],
  [...g, 'delete', '--force', 'id1'],
  [...g, 'delete', 'id1', '-f'],
  [...g, 'run', '--bundle', '/b', '-d', 'id1'],
  [...g, 'run', '--bundle', '/b', 'id1'],
  [...g, 'list'],
  [...g, 'list', '-q'],
  [...g, 'list', '--format', 'json'],
  [...g, 'list', '-f', 'table', '--quiet'],
  [...g, 'pause', 'id1'],
  [...g, 'resume', 'id1'],
  [...g, 'update', '--memory', '16M', '--pids-limit=10', 'id1'],
  [...g, 'events', '--stats', 'id1'],
  [...g, 'events', '--interval', '1s', 'id1'],
  [...g, 'features'],
  ['spec', '--rootless', '-b', '/b'],
  ['--root', '/tmp/r', '--root', '/tmp/other', 'state', 'x'],
  ['--root=', 'state', 'x'],
  [...g, 'create', '--bundle', '', 'x'],
  [...g, 'state', '-'],
];
// Left to commander: help, version, errors, pass-through commands, unusual forms.
const others: string[][] = [
  [],
  ['-v'],
  ['--version'],
  [...g],
  [...g, 'nonsense'],
  [...g, 'state'],
  [...g, 'state', 'a', 'b'],
  [...g, 'state', '--help'],
  [...g, 'state', '-h', 'x'],
  [...g, 'kill', 'a', 'b', 'c'],
  [...g, 'kill', 'a', '-9'],
  [...g, 'kill', '-af', 'a'],
  [...g, 'delete', '-fx', 'a'],
  [...g, 'delete', '--force=1', 'a'],
  [...g, 'list', '--format', 'yaml'],
  [...g, 'list', '--format'],
  [...g, 'create', '--bundle'],
  [...g, 'create', '-b/b', 'x'],
  [...g, 'create', '--bundle', '--pid-file', 'x'],
  [...g, 'create', '--pivot', 'x'],
  [...g, 'start', '--', 'x'],
  ['--log-format', 'yaml', 'state', 'x'],
  ['--root'],
  ['--unknown', 'state', 'x'],
  ['state', '--root', '/r', 'x'],
  [...g, 'exec', 'x', 'ls'],
  [...g, 'exec', '-e', 'A=1', 'x', 'ls', '-l'],
  [...g, 'ps', 'x', '-ef'],
  [...g, 'help'],
  [...g, 'constructor', 'x'],
  [...g, '__proto__', 'x'],
];

function commander(argv: string[]) {
  const parsed = parseWithCommander(argv);
  return 'selected' in parsed ? parsed.selected : parsed;
}

describe('the fast command-line reader', () => {
  test.each(common.map((a) => [a.join(' '), a]))('reads %s as commander does', (_, argv) => {
    const fast = parseCommonArgv(argv as string[]);
    expect(fast).toBeDefined();
    expect(fast).toEqual(commander(argv as string[]));
  });

  test.each(others.map((a) => [a.join(' ') || '(nothing)', a]))('leaves %s to commander', (_, argv) => {
    expect(parseCommonArgv(argv as string[])).toBeUndefined();
  });
});
