// What engines (containerd's shim, podman) rely on: exec, the console socket,
// JSON logs, --preserve-fds, features. Each test would fail if the contract broke.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { Runtime, isRoot, makeBundle, processAlive, uniqueId, waitFor, type Bundle, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
const bundles: Bundle[] = [];
afterAll(() => {
  for (const b of bundles) b.cleanup();
  rt.dispose();
});

function sleeper(mutate?: (c: BundleConfig) => void): { bundle: Bundle; id: string } {
  const bundle = makeBundle({ args: ['sleep', '1000'], mutate });
  bundles.push(bundle);
  const id = uniqueId();
  rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
  return { bundle, id };
}

describe.skipIf(!isRoot)('exec', () => {
  it('joins every namespace of the container and returns the exit code', () => {
    const { id } = sleeper((c) => (c.hostname = 'exec-host'));
    const init = rt.state(id).pid;
    const pidFile = rt.scratchPath(`${id}.exec.pid`);
    rt.ok(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30']);
    const execPid = Number(readFileSync(pidFile, 'utf8'));
    for (const ns of ['pid', 'net', 'ipc', 'uts', 'mnt']) {
      expect(readlinkSync(`/proc/${execPid}/ns/${ns}`), ns).toBe(readlinkSync(`/proc/${init}/ns/${ns}`));
    }
    expect(readFileSync(`/proc/${execPid}/cgroup`, 'utf8')).toBe(readFileSync(`/proc/${init}/cgroup`, 'utf8'));
    const r = rt.run(['exec', id, 'sh', '-c', 'hostname; echo $$; exit 4']);
    expect(r.code).toBe(4);
    const [host, pid] = r.stdout.trim().split('\n');
    expect(host).toBe('exec-host');
    expect(Number(pid)).toBeGreaterThan(1); // a pid of the container's namespace
    rt.ok(['delete', '-f', id]);
  });

  it('applies --env, --cwd, --user and takes a whole --process file', () => {
    const { id } = sleeper();
    const flags = rt.ok(['exec', '--env', 'FOO=bar', '--cwd', '/tmp', '--user', '1000:1000', id, 'sh', '-c', 'echo $FOO; pwd; id -u; id -g']);
    expect(flags.stdout).toBe('bar\n/tmp\n1000\n1000\n');
    const processFile = rt.scratchPath(`${id}-process.json`);
    writeFileSync(
      processFile,
      JSON.stringify({
        args: ['sh', '-c', 'echo $ONLY; grep NoNewPrivs /proc/self/status'],
        env: ['ONLY=this', 'PATH=/bin'],
        cwd: '/',
        noNewPrivileges: false,
        user: { uid: 0, gid: 0 },
      }),
    );
    const viaFile = rt.ok(['exec', '--process', processFile, id]);
    expect(viaFile.stdout).toMatch(/^this\nNoNewPrivs:\s+0\n$/);
    writeFileSync(processFile, JSON.stringify({ args: [], cwd: '/' }));
    const bad = rt.run(['exec', '--process', processFile, id]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`ocirun: ${processFile}: /args: must have at least 1 item\n`);
    rt.ok(['delete', '-f', id]);
  });

  it("--user UID keeps the config's gid and --additional-gids adds to its groups, as runc", () => {
    const { id } = sleeper((c) => (c.process.user = { uid: 0, gid: 5, additionalGids: [7] }));
    const ids = 'id -u; id -g; id -G';
    expect(rt.ok(['exec', '--user', '1000', '--additional-gids', '9', id, 'sh', '-c', ids]).stdout).toBe('1000\n5\n5 7 9\n');
    expect(rt.ok(['exec', '--user', '1000:1000', id, 'sh', '-c', ids]).stdout).toBe('1000\n1000\n1000 7\n');
    rt.ok(['delete', '-f', id]);
  });

  it('--cgroup runs the process in an existing sub-cgroup of the container, as runc', () => {
    const { id } = sleeper();
    const memoryDir = (JSON.parse(readFileSync(path.join(rt.root, id, 'state.json'), 'utf8')) as { cgroupPaths: Record<string, string> }).cgroupPaths.memory;
    const isV1 = memoryDir !== undefined && !memoryDir.includes('/unified');
    const ownCgroup = (text: string, controller: string) =>
      text
        .split('\n')
        .find((l) => l.split(':')[1].split(',').includes(controller))!
        .split(':')[2];
    try {
      if (isV1) {
        mkdirSync(path.join(memoryDir, 'sub'));
        const inSub = rt.ok(['exec', '--cgroup', 'memory:sub', id, 'cat', '/proc/self/cgroup']).stdout;
        const init = readFileSync(`/proc/${rt.state(id).pid}/cgroup`, 'utf8');
        expect(ownCgroup(inSub, 'memory')).toBe(`${ownCgroup(init, 'memory')}/sub`);
        expect(ownCgroup(inSub, 'pids')).toBe(ownCgroup(init, 'pids'));
        expect(rt.ok(['exec', '--cgroup', '/', id, 'cat', '/proc/self/cgroup']).stdout).toBe(init);
      }
      const refused = (args: string[], message: RegExp) => {
        const r = rt.run(['exec', ...args, id, 'echo', 'ran']);
        expect([r.code, r.stdout]).toEqual([1, '']);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(r.stderr.trimEnd()).toMatch(message);
      };
      refused(['--cgroup', '..'], /^ocirun: --cgroup \.\.: bad sub cgroup path/);
      refused(['--cgroup', 'nonexistent'], /^ocirun: --cgroup nonexistent: no such cgroup .*\/nonexistent \(create it first\)$/);
      refused(['--cgroup', 'whaaat:/'], /^ocirun: --cgroup whaaat:\/: unknown controller whaaat/);
      refused(['--cgroup', 'memory:a', '--cgroup', 'b'], /^ocirun: --cgroup "b": missing <controller>: prefix/);
      refused(['--cgroup', ',memory:a'], /^ocirun: --cgroup ",memory:a": empty <controller> prefix$/);
      refused(['--cgroup', 'memory:a', '--cgroup', 'memory:b'], /^ocirun: --cgroup "memory:b": controller memory is given more than once$/);
    } finally {
      rt.ok(['delete', '-f', id]);
    }
  });

  it("refuses a stopped or unknown container with runc's words", () => {
    const bundle = makeBundle({ args: ['true'] });
    bundles.push(bundle);
    const id = uniqueId();
    rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
    waitFor(() => rt.state(id).status === 'stopped', 'true to exit');
    const r = rt.run(['exec', id, 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ocirun: ${id}: container not running\n`);
    expect(rt.run(['exec', 'nope', 'true']).stderr).toBe('ocirun: nope: container does not exist\n');
    rt.ok(['delete', id]);
  });
});

describe.skipIf(!isRoot)('run in the foreground', () => {
  it('forwards SIGTERM, SIGINT and SIGHUP to the container and exits with its status', async () => {
    const outbox = rt.scratchPath(`signals-${uniqueId()}`);
    mkdirSync(outbox);
    const bundle = makeBundle({
      args: ['sh', '-c', 'trap "exit 11" TERM; trap "exit 12" INT; trap "exit 13" HUP; touch /out/ready; while true; do sleep 0.05; done'],
      mutate: (c) => c.mounts.push({ destination: '/out', type: 'bind', source: outbox, options: ['rbind'] }),
    });
    bundles.push(bundle);
    for (const [signal, code] of [
      ['SIGTERM', 11],
      ['SIGINT', 12],
      ['SIGHUP', 13],
    ] as const) {
      rmSync(path.join(outbox, 'ready'), { force: true });
      const child = spawn(OCIRUN_BIN, ['--root', rt.root, 'run', '--bundle', bundle.dir, uniqueId()], { stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      waitFor(() => existsSync(path.join(outbox, 'ready')), 'the traps');
      child.kill(signal);
      expect(await exited, signal).toBe(code);
    }
    expect(rt.containerIds()).toEqual([]);
  });
});

describe.skipIf(!isRoot)('terminals', () => {
  const receiver = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/console-receiver.py');

  it('sends the pty master over --console-socket; the container has it as its controlling terminal', () => {
    const bundle = makeBundle({
      args: ['sh', '-c', 'tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-tty; stty size; echo done'],
      mutate: (c) => {
        c.process.terminal = true;
        c.process.consoleSize = { height: 30, width: 100 };
      },
    });
    bundles.push(bundle);
    const socket = rt.scratchPath(`console-${uniqueId()}.sock`);
    const out = rt.scratchPath(`console-${uniqueId()}.out`);
    const server = spawn('python3', [receiver, socket, out], { stdio: 'ignore' });
    try {
      waitFor(() => existsSync(socket), 'the console socket');
      const id = uniqueId();
      rt.ok(['run', '-d', '--console-socket', socket, '--bundle', bundle.dir, id]);
      waitFor(() => existsSync(out) && readFileSync(out, 'utf8').includes('done'), 'output through the pty');
      expect(readFileSync(out, 'utf8')).toBe('name=/dev/ptmx\n/dev/pts/0\r\nstdio-is-tty\r\n30 100\r\ndone\r\n');
      waitFor(() => rt.state(id).status === 'stopped', 'the process to exit');
      rt.ok(['delete', id]);
    } finally {
      server.kill();
    }
  });

  it('run in the foreground attaches the caller to the pty when there is no console socket', () => {
    const bundle = makeBundle({ args: ['sh', '-c', 'tty; exit 3'], mutate: (c) => (c.process.terminal = true) });
    bundles.push(bundle);
    const r = rt.run(['run', '--bundle', bundle.dir, uniqueId()]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('/dev/pts/0\r\n');
  });

  it('create with process.terminal and no console socket is a usage error', () => {
    const bundle = makeBundle({ mutate: (c) => (c.process.terminal = true) });
    bundles.push(bundle);
    const r = rt.run(['create', '--bundle', bundle.dir, uniqueId()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ocirun: process.terminal is true: pass --console-socket/);
    expect(rt.containerIds()).toEqual([]);
  });
});

describe.skipIf(!isRoot)('logs', () => {
  it('--log with --log-format json writes runc-style lines that carry the error; stderr gets it too', () => {
    const log = rt.scratchPath('log.json');
    const r = rt.run(['--root', rt.root, '--log', log, '--log-format', 'json', 'state', 'nope'], { globals: [] });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ocirun: nope: container does not exist\n');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ level: 'error', msg: 'nope: container does not exist', code: 'container-not-found' });
    expect(new Date(entry.time).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('--log-format json without --log puts the JSON line on stderr', () => {
    const r = rt.run(['--root', rt.root, '--log-format', 'json', 'kill', 'nope'], { globals: [] });
    expect(JSON.parse(r.stderr)).toMatchObject({ level: 'error', msg: 'nope: container does not exist' });
  });
});

describe.skipIf(!isRoot)('file descriptors', () => {
  it('--preserve-fds passes fd 3 on; without it the process sees only 0-2', () => {
    const bundle = makeBundle({ args: ['sh', '-c', 'ls /proc/self/fd; echo via-fd3 >&3'] });
    bundles.push(bundle);
    const target = rt.scratchPath('fd3.txt');
    const out = rt.scratchPath('fd-out.txt');
    const fd3 = openSync(target, 'w');
    const outFd = openSync(out, 'w');
    try {
      const run = (extra: string[]) =>
        spawnSync(OCIRUN_BIN, ['--root', rt.root, 'run', ...extra, '--bundle', bundle.dir, uniqueId()], {
          stdio: ['ignore', outFd, 'inherit', fd3],
        });
      expect(run(['--preserve-fds', '1']).status).toBe(0);
      expect(readFileSync(target, 'utf8')).toBe('via-fd3\n');
      const fdsSeen = readFileSync(out, 'utf8').trim().split('\n');
      expect(fdsSeen).toEqual(['0', '1', '2', '3', '4']); // 4: ls's own directory fd
      writeFileSync(out, '');
      expect(run([]).status).not.toBe(0); // fd 3 is closed: the redirection fails
    } finally {
      closeSync(fd3);
      closeSync(outFd);
    }
  });
});

describe.skipIf(!isRoot)('socket activation', () => {
  it('LISTEN_FDS passes fds 3.. ahead of --preserve-fds and tells the container', () => {
    const bundle = makeBundle({ args: ['sh', '-c', 'echo "$LISTEN_FDS $LISTEN_PID"; echo listen >&3; echo preserved >&4'] });
    bundles.push(bundle);
    const [listenFile, preservedFile, out] = ['listen.txt', 'preserved.txt', 'activation-out.txt'].map((n) => rt.scratchPath(n));
    const fds = [openSync(listenFile, 'w'), openSync(preservedFile, 'w'), openSync(out, 'w')];
    try {
      // LISTEN_PID names ocirun (sd_listen_fds(3)): exec keeps the shell's pid.
      const argv = [OCIRUN_BIN, '--root', rt.root, 'run', '--preserve-fds', '1', '--bundle', bundle.dir, uniqueId()];
      const r = spawnSync('sh', ['-c', 'LISTEN_PID=$$ exec "$@"', 'sh', ...argv], {
        stdio: ['ignore', fds[2], 'inherit', fds[0], fds[1]],
        env: { ...process.env, LISTEN_FDS: '1' },
      });
      expect(r.status).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('1 1\n');
      expect(readFileSync(listenFile, 'utf8')).toBe('listen\n');
      expect(readFileSync(preservedFile, 'utf8')).toBe('preserved\n');
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });
});

describe('features', () => {
  it('prints the runtime-spec features document', () => {
    const r = spawnSync(OCIRUN_BIN, ['features'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const f = JSON.parse(r.stdout);
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toBe('1.3.0');
    expect(f.mountOptions).toEqual(expect.arrayContaining(['rbind', 'ro', 'nosuid', 'rprivate', 'tmpcopyup', 'rro', 'rnoexec']));
    expect(f.linux.namespaces).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
    expect(f.linux.capabilities).toContain('CAP_CHECKPOINT_RESTORE');
    // What is implemented is reported (linux.resources.rdma, linux.intelRdt.schemata and enableMonitoring).
    expect(f.linux.cgroup).toMatchObject({ v1: true, v2: true, rdma: true });
    expect(f.linux.intelRdt).toEqual({ enabled: true, schemata: true, monitoring: true });
    // linux.memoryPolicy and linux.netDevices are applied (execCPUAffinity has no entry in features.md).
    expect([...f.linux.memoryPolicy.modes].sort()).toEqual([
      'MPOL_BIND',
      'MPOL_DEFAULT',
      'MPOL_INTERLEAVE',
      'MPOL_LOCAL',
      'MPOL_PREFERRED',
      'MPOL_PREFERRED_MANY',
      'MPOL_WEIGHTED_INTERLEAVE',
    ]);
    expect([...f.linux.memoryPolicy.flags].sort()).toEqual(['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES']);
    expect(f.linux.netDevices).toEqual({ enabled: true });
  });
});

describe.skipIf(!isRoot)('detached containers', () => {
  it('leave no ocirun or Node process behind after start', () => {
    const { id } = sleeper();
    const init = rt.state(id).pid;
    expect(processAlive(init)).toBe(true);
    expect(readFileSync(`/proc/${init}/cmdline`, 'utf8')).toBe('sleep\u00001000\u0000');
    const ours = spawnSync('pgrep', ['-f', `ocirun.*${id}`], { encoding: 'utf8' }).stdout.trim();
    expect(ours).toBe('');
    rt.ok(['delete', '-f', id]);
  });
});
