// What of the runtime a container or another user can reach: fds the runtime
// holds (CVE-2016-9962, CVE-2024-21626: a host directory handle in a waiting
// init, --preserve-fds and LISTEN_FDS passing fds nobody passed), files root
// writes at a path the caller names (through a symlink another user planted),
// the environment startContainer hooks get, and the launcher's environment
// and --root. Each test fails if its protection is gone.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { Runtime, bundleWithOutbox, isRoot, uniqueId, waitFor, type Result } from '../helpers/ocirun.js';
import { runtimeToolsProfile } from '../helpers/seccomp-profile.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

const NOBODY = 65534;

/**
 * ocirun with stdout and stderr in files and `extra` opened as fds 3, 4, ...;
 * `shell` wraps the command line (sh -c SHELL ocirun ARGS...), e.g. to set a
 * variable to the pid ocirun will have.
 */
function runWithFds(args: string[], extra: string[], opts: { env?: NodeJS.ProcessEnv; shell?: string } = {}): Result {
  const out = rt.scratchPath(`fds-${uniqueId()}.out`);
  const fds = [openSync(out, 'w'), openSync(`${out}.err`, 'w'), ...extra.map((file) => openSync(file, 'r'))];
  const argv = [OCIRUN_BIN, '--root', rt.root, ...args];
  try {
    const r = opts.shell
      ? spawnSync('sh', ['-c', opts.shell, 'sh', ...argv], { stdio: ['ignore', ...fds], env: opts.env, timeout: 30_000 })
      : spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', ...fds], env: opts.env, timeout: 30_000 });
    return { code: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(`${out}.err`, 'utf8') };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** A detached `sleep` started with `run -d`: its fds and environment, then it is deleted. */
function sleeperSees(runArgs: string[], extra: string[], opts: Parameters<typeof runWithFds>[2] = {}): { fds: Record<string, string>; env: string[] } {
  const b = rt.bundle(['sleep', '1000']);
  const id = uniqueId();
  const r = runWithFds(['run', '-d', ...runArgs, '--bundle', b.dir, id], extra, opts);
  expect(r.code, r.stderr).toBe(0);
  const { pid } = rt.state(id);
  waitFor(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u00001000\u0000', 'sleep to start');
  const fds = Object.fromEntries(readdirSync(`/proc/${pid}/fd`).map((fd) => [fd, readlinkSync(`/proc/${pid}/fd/${fd}`)]));
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\u0000').filter(Boolean);
  rt.ok(['delete', '-f', id]);
  return { fds, env };
}

/** Two host files to pass as fds 3 and 4. */
function twoFiles(): string[] {
  return ['a', 'b'].map((name) => {
    const file = rt.scratchPath(`passed-${name}-${uniqueId()}`);
    writeFileSync(file, name);
    return file;
  });
}

describe.skipIf(!isRoot)('fds of the runtime (CVE-2016-9962, CVE-2024-21626 class)', () => {
  // A profile that predates close_range(2) makes the init list its fds through its procfs: that
  // handle, to an unmasked procfs, must be gone before the init waits too.
  it.each([
    ['', undefined],
    [' (under a seccomp profile that refuses close_range)', runtimeToolsProfile()],
  ])('a waiting init holds no host directory that a CAP_SYS_PTRACE process of its container could use%s', (_, seccomp) => {
    const b = rt.bundle(['sleep', '1000'], (c) => {
      if (!seccomp) return;
      c.linux.seccomp = seccomp;
      c.process.noNewPrivileges = false;
    });
    const id = uniqueId();
    // Host directories on fds 3-5, not preserved: the caller's, not the container's.
    const created = runWithFds(['create', '--bundle', b.dir, id], ['/', '/etc', b.dir]);
    expect(created.code, created.stderr).toBe(0);
    const probe = 'ls /proc/1/fd; for f in /proc/1/fd/*; do if [ -d "$f" ]; then echo "directory $f"; fi; done';
    const r = rt.run(['exec', '--cap', 'CAP_SYS_PTRACE', id, 'sh', '-c', probe]);
    rt.ok(['delete', '-f', id]);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('0'); // the init's fds are in sight: the check below means something
    expect(lines.filter((l) => l.startsWith('directory'))).toEqual([]);
  });

  it('--preserve-fds beyond the fds the caller passed is refused, and nothing is left', () => {
    const b = rt.bundle(['ls', '-l', '/proc/self/fd']);
    for (const [count, extra, fd] of [
      [10, [], 3],
      [3, twoFiles(), 5],
    ] as const) {
      const r = runWithFds(['run', '--preserve-fds', String(count), '--bundle', b.dir, uniqueId()], [...extra]);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`ocirun: --preserve-fds ${count}: fd ${fd} was not passed to ocirun (only fds 0-${fd - 1} were)\n`);
    }
    const sleeper = rt.bundle(['sleep', '1000']);
    const id = uniqueId();
    rt.ok(['run', '-d', '--bundle', sleeper.dir, id]);
    const r = runWithFds(['exec', '--preserve-fds', '10', id, 'ls', '/proc/self/fd'], []);
    expect(r.stderr).toBe('ocirun: --preserve-fds 10: fd 3 was not passed to ocirun (only fds 0-2 were)\n');
    expect(r.stdout).toBe('');
    rt.ok(['delete', '-f', id]);
    expect(rt.containerIds()).toEqual([]);
  });

  it('--preserve-fds passes exactly the fds the caller passed', () => {
    const files = twoFiles();
    const { fds } = sleeperSees(['--preserve-fds', '2'], files);
    expect(fds).toMatchObject({ 3: files[0], 4: files[1] });
    expect(Object.keys(fds).sort()).toEqual(['0', '1', '2', '3', '4']);
  });

  it('LISTEN_FDS counts only when LISTEN_PID names ocirun, as sd_listen_fds(3) says', () => {
    const files = twoFiles();
    for (const listenPid of [undefined, '1']) {
      const env: NodeJS.ProcessEnv = { ...process.env, LISTEN_FDS: '2' };
      delete env.LISTEN_PID;
      if (listenPid) env.LISTEN_PID = listenPid;
      const seen = sleeperSees([], files, { env });
      expect(Object.keys(seen.fds).sort(), `LISTEN_PID ${listenPid}`).toEqual(['0', '1', '2']);
      expect(seen.env.filter((e) => e.startsWith('LISTEN_'))).toEqual([]);
    }
    // exec keeps the pid: LISTEN_PID=$$ is ocirun's.
    const seen = sleeperSees([], files, { env: { ...process.env, LISTEN_FDS: '2' }, shell: 'LISTEN_PID=$$ exec "$@"' });
    expect(seen.fds).toMatchObject({ 3: files[0], 4: files[1] });
    expect(seen.env.filter((e) => e.startsWith('LISTEN_'))).toEqual(['LISTEN_FDS=2', 'LISTEN_PID=1']);
  });
});

describe.skipIf(!isRoot)('files root writes where the caller says, in a directory another user owns', () => {
  /** A directory owned by nobody (say a bundle directory), and a file of root's that must stay as it is. */
  function userDirAndVictim(): { dir: string; victim: string } {
    const dir = rt.scratchPath(`user-dir-${uniqueId()}`);
    mkdirSync(dir);
    chownSync(dir, NOBODY, NOBODY);
    const victim = rt.scratchPath(`victim-${uniqueId()}`);
    writeFileSync(victim, 'root only\n', { mode: 0o600 });
    return { dir, victim };
  }

  it('--pid-file replaces a symlink there, and the temporary file cannot be one', () => {
    const { dir, victim } = userDirAndVictim();
    const pidFile = path.join(dir, 'init.pid');
    symlinkSync(victim, pidFile);
    const b = rt.bundle(['true']);
    const id = uniqueId();
    // The owner of the directory guessed ocirun's pid and so the temporary file's name.
    const r = runWithFds(['create', '--pid-file', pidFile, '--bundle', b.dir, id], [], {
      shell: `ln -s ${victim} ${dir}/.init.pid.$$; ln -s ${victim} ${dir}/.init.pid.$$.tmp; exec "$@"`,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('root only\n');
    expect(lstatSync(pidFile).isFile()).toBe(true);
    expect(Number(readFileSync(pidFile, 'utf8'))).toBe(rt.state(id).pid);
    rt.ok(['delete', '-f', id]);
  });

  it('--log does not follow a symlink there; one in a directory only root writes (/dev/stderr) it does', () => {
    const { dir, victim } = userDirAndVictim();
    const log = path.join(dir, 'log.json');
    symlinkSync(victim, log);
    const r = rt.run(['--root', rt.root, '--log', log, 'state', 'nope'], { globals: [] });
    expect(r.code).toBe(1);
    expect(readFileSync(victim, 'utf8')).toBe('root only\n');
    expect(r.stderr).toBe(`ocirun: --log ${log}: cannot open it: ELOOP\n`);
    const viaDev = rt.run(['--root', rt.root, '--log', '/dev/stderr', '--log-format', 'json', 'state', 'nope'], { globals: [] });
    // (fd 2 is a file here, written at its own offset: the text line may overlay the start of the JSON one)
    expect(viaDev.stderr).toContain('"code":"container-not-found"');
  });

  it('spec does not write config.json through a dangling symlink', () => {
    const { dir } = userDirAndVictim();
    const elsewhere = rt.scratchPath(`planted-${uniqueId()}`);
    symlinkSync(elsewhere, path.join(dir, 'config.json'));
    const r = rt.run(['spec', '--bundle', dir], { globals: [] });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`ocirun: ${path.join(dir, 'config.json')} exists: remove it first\n`);
    expect(existsSync(elsewhere)).toBe(false);
  });
});

describe.skipIf(!isRoot)('the environment of hooks', () => {
  it("a startContainer hook without env gets the container process's environment, not the runtime's", () => {
    const { bundle: b, out, outbox } = bundleWithOutbox(rt, 'true', (c) => c.process.env.push('CONTAINER_ONLY=1'));
    rt.track(b);
    b.config.hooks = {
      prestart: [{ path: '/bin/sh', args: ['sh', '-c', `env > ${outbox}/prestart.env`] }],
      startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'env > /out/startContainer.env'] }],
    };
    b.write();
    rt.ok(['run', '--bundle', b.dir, uniqueId()], { env: { ...process.env, RUNTIME_SECRET: 'engine token' } });
    expect(out('startContainer.env')).toContain('CONTAINER_ONLY=1');
    expect(out('startContainer.env')).not.toContain('RUNTIME_SECRET');
    // A hook on the host keeps the runtime's environment, as with runc.
    expect(out('prestart.env')).toContain('RUNTIME_SECRET=engine token');
  });
});

describe.skipIf(!isRoot)("the runtime's environment in a process a container can reach", () => {
  const SECRET = `engine-token-${uniqueId()}`;

  it('a waiting init shows none of it, in /proc/1/environ or anywhere in its memory, nor does a createContainer hook get it', () => {
    const { bundle: b, out, outbox } = bundleWithOutbox(rt, 'true');
    rt.track(b);
    b.config.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `env > ${outbox}/createContainer.env`] }] };
    b.write();
    const id = uniqueId();
    rt.ok(['create', '--bundle', b.dir, id], { env: { ...process.env, RUNTIME_SECRET: SECRET } });
    // A container process with CAP_SYS_PTRACE in the host's user namespace may read its pid 1's environment.
    const seen = rt.ok(['exec', '--cap', 'CAP_SYS_PTRACE', id, 'sh', '-c', 'cat /proc/1/environ; echo; echo read']).stdout;
    expect(seen).toContain('read');
    expect(seen).not.toContain(SECRET);
    expect(memoryHolds(rt.state(id).pid, SECRET)).toBe(false);
    expect(out('createContainer.env')).not.toContain(SECRET);
  });
});

/** Whether any readable mapping of process `pid` contains `needle`. */
function memoryHolds(pid: number, needle: string): boolean {
  const mem = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const [range, perms, , , , name] = line.split(/\s+/);
      if (!range || !perms.startsWith('r') || /^\[(vvar|vvar_vclock|vsyscall)\]$/.test(name ?? '')) continue;
      const [start, end] = range.split('-').map((hex) => parseInt(hex, 16));
      const buf = Buffer.alloc(end - start);
      try {
        readSync(mem, buf, 0, buf.length, start);
      } catch {
        continue; // a mapping the kernel will not read (e.g. a guard page)
      }
      if (buf.includes(needle)) return true;
    }
    return false;
  } finally {
    closeSync(mem);
  }
}

describe.skipIf(!isRoot)('the launcher', () => {
  it('no NODE_*, UV_* or OPENSSL_CONF setting of the caller acts on ocirun or reaches a hook', () => {
    const coverage = rt.scratchPath(`coverage-${uniqueId()}`);
    const required = rt.scratchPath(`required-${uniqueId()}`);
    const opensslConf = rt.scratchPath(`openssl-${uniqueId()}.cnf`);
    // Node refuses to start on a config it cannot parse; one that names a provider loads its library.
    writeFileSync(opensslConf, '[[[ not a config\n');
    writeFileSync(`${required}.js`, `require('fs').writeFileSync(${JSON.stringify(required)}, 'ran')`);
    const env = {
      ...process.env,
      NODE_OPTIONS: `--require ${required}.js`,
      OPENSSL_CONF: opensslConf,
      NODE_V8_COVERAGE: coverage,
      NODE_SOMETHING_NEW: '1',
      UV_THREADPOOL_SIZE: '1',
    };
    const { bundle: b, out, outbox } = bundleWithOutbox(rt, 'true');
    rt.track(b);
    b.config.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `env > ${outbox}/prestart.env`] }] };
    b.write();
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(required)).toBe(false);
    expect(existsSync(coverage) ? readdirSync(coverage) : []).toEqual([]);
    expect(out('prestart.env')).not.toMatch(/^(NODE_|UV_|OPENSSL_CONF)/m);
    expect(out('prestart.env')).toMatch(/^PATH=/m);
  });

  it('refuses a --root that another user owns or that group or others can write', () => {
    const cases: [string, (dir: string) => void, RegExp][] = [
      ['owned', (dir) => chownSync(dir, NOBODY, NOBODY), /^ocirun: --root \S+: owned by uid 65534, not by root or by ocirun's user \(uid 0\)/],
      ['group', (dir) => chmodSync(dir, 0o770), /^ocirun: --root \S+: mode 770 lets group or others write it/],
      ['others', (dir) => chmodSync(dir, 0o703), /^ocirun: --root \S+: mode 703 lets group or others write it/],
    ];
    const b = rt.bundle(['true']);
    for (const [name, spoil, error] of cases) {
      const root = rt.scratchPath(`root-${name}-${uniqueId()}`);
      mkdirSync(root, { mode: 0o700 });
      spoil(root);
      for (const args of [['list'], ['create', '--bundle', b.dir, uniqueId()], ['delete', '-f', 'x']]) {
        const r = rt.run(['--root', root, ...args], { globals: [] });
        expect(r.code, `${name} ${args[0]}`).toBe(1);
        expect(r.stderr, `${name} ${args[0]}`).toMatch(error);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(readdirSync(root)).toEqual([]);
      }
    }
  });
});
