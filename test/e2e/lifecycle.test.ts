// The lifecycle as a client drives it: create, state, start, kill, delete,
// run, list — and every call in the wrong state.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bundleWithOutbox,
  Runtime,
  hostMountsMentioning,
  isRoot,
  makeBundle,
  processAlive,
  processesMentioning,
  sleep,
  uniqueId,
  waitFor,
  type Bundle,
} from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

describe.skipIf(!isRoot)('lifecycle', () => {
  it('create leaves the init waiting, start runs the process, exit makes it stopped, delete removes every trace', () => {
    const { bundle, outbox } = bundleWithOutbox(rt, 'echo started > /out/marker; while [ ! -e /out/stop ]; do sleep 0.05; done');
    const id = uniqueId();
    const pidFile = rt.scratchPath(`${id}.pid`);
    try {
      rt.ok(['create', '--bundle', bundle.dir, '--pid-file', pidFile, id]);
      const pidText = readFileSync(pidFile, 'utf8');
      expect(pidText).toMatch(/^\d+$/); // bare number, no newline: containerd parses it so
      const created = rt.state(id);
      expect(created).toMatchObject({ id, status: 'created', pid: Number(pidText), bundle: bundle.dir, ociVersion: '1.3.0' });
      expect(processAlive(created.pid)).toBe(true);
      expect(existsSync(path.join(outbox, 'marker'))).toBe(false); // nothing ran yet

      rt.ok(['start', id]);
      expect(rt.state(id).status).toBe('running');
      waitFor(() => existsSync(path.join(outbox, 'marker')), 'the process to write its marker');
      expect(readFileSync(path.join(outbox, 'marker'), 'utf8')).toBe('started\n');

      writeFileSync(path.join(outbox, 'stop'), '');
      waitFor(() => rt.state(id).status === 'stopped', 'the process to exit');
      expect(rt.state(id).pid).toBe(0);
      rt.ok(['delete', id]);
      expect(rt.containerIds()).not.toContain(id);
      expect(hostMountsMentioning(bundle.dir)).toEqual([]);
      expect(rt.run(['state', id]).stderr).toContain('container does not exist');
    } finally {
      bundle.cleanup();
    }
  });

  it('kill accepts names with and without SIG, and numbers', () => {
    const { bundle, outbox } = bundleWithOutbox(
      rt,
      'trap "echo usr1 >> /out/signals" USR1; trap "echo hup >> /out/signals" HUP; trap "echo term >> /out/signals; exit 0" TERM; ' +
        'echo ready > /out/ready; while true; do sleep 0.05; done',
    );
    const id = uniqueId();
    try {
      rt.ok(['run', '--detach', '--bundle', bundle.dir, id]);
      waitFor(() => existsSync(path.join(outbox, 'ready')), 'the traps to be set');
      const signals = path.join(outbox, 'signals');
      rt.ok(['kill', id, 'USR1']);
      waitFor(() => existsSync(signals) && readFileSync(signals, 'utf8').includes('usr1'), 'USR1');
      rt.ok(['kill', id, 'SIGHUP']);
      waitFor(() => readFileSync(signals, 'utf8').includes('hup'), 'SIGHUP');
      rt.ok(['kill', id, '15']);
      waitFor(() => rt.state(id).status === 'stopped', 'TERM to stop it');
      expect(readFileSync(signals, 'utf8')).toBe('usr1\nhup\nterm\n');
      const late = rt.run(['kill', id, 'KILL']);
      expect(late.code).not.toBe(0);
      expect(late.stderr).toContain('container not running');
      rt.ok(['delete', id]);
    } finally {
      bundle.cleanup();
    }
  });

  it('kill with no signal sends SIGTERM, and KILL stops a process that ignores it', () => {
    const { bundle, outbox } = bundleWithOutbox(rt, 'trap "" TERM; echo ready > /out/ready; while true; do sleep 0.05; done');
    const id = uniqueId();
    try {
      rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
      waitFor(() => existsSync(path.join(outbox, 'ready')), 'the trap');
      rt.ok(['kill', id]);
      sleep(200);
      expect(rt.state(id).status).toBe('running');
      rt.ok(['kill', id, 'SIGKILL']);
      waitFor(() => rt.state(id).status === 'stopped', 'KILL');
      rt.ok(['delete', id]);
    } finally {
      bundle.cleanup();
    }
  });

  it('kill --all signals every process of the container', () => {
    const { bundle, outbox } = bundleWithOutbox(rt, 'sleep 1000 & sleep 1000 & echo ready > /out/ready; wait');
    const id = uniqueId();
    try {
      rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
      waitFor(() => existsSync(path.join(outbox, 'ready')), 'the children');
      const init = rt.state(id).pid;
      rt.ok(['kill', '--all', id, 'KILL']);
      waitFor(() => rt.state(id).status === 'stopped', 'every process to die');
      expect(processAlive(init)).toBe(false);
      rt.ok(['delete', id]);
    } finally {
      bundle.cleanup();
    }
  });

  it('every call in the wrong state fails with one clear line and changes nothing', () => {
    const { bundle, outbox } = bundleWithOutbox(rt, 'echo ready > /out/ready; sleep 1000');
    const id = uniqueId();
    try {
      rt.ok(['create', '--bundle', bundle.dir, id]);
      const again = rt.run(['create', '--bundle', bundle.dir, id]);
      expect(again.code).toBe(1);
      expect(again.stderr).toBe(`ocirun: ${id}: container with given ID already exists\n`);
      expect(rt.state(id).status).toBe('created');

      rt.ok(['start', id]);
      waitFor(() => existsSync(path.join(outbox, 'ready')), 'start');
      const twice = rt.run(['start', id]);
      expect(twice.code).toBe(1);
      expect(twice.stderr).toMatch(/cannot start a container that is running/);

      const del = rt.run(['delete', id]);
      expect(del.code).toBe(1);
      expect(del.stderr).toMatch(/cannot delete container that is not stopped: running/);
      expect(rt.state(id).status).toBe('running');

      rt.ok(['delete', '--force', id]);
      expect(rt.containerIds()).not.toContain(id);
      expect(processesMentioning('sleep 1000').filter(processAlive)).toEqual([]);
    } finally {
      bundle.cleanup();
    }
  });

  it('start of a stopped container fails; delete of a created one kills its init', () => {
    const bundle = makeBundle({ args: ['true'] });
    const stopped = uniqueId();
    const created = uniqueId();
    try {
      rt.ok(['run', '-d', '--bundle', bundle.dir, stopped]);
      waitFor(() => rt.state(stopped).status === 'stopped', 'true to exit');
      const start = rt.run(['start', stopped]);
      expect(start.code).toBe(1);
      expect(start.stderr).toMatch(/cannot start a container that is stopped/);
      rt.ok(['delete', stopped]);

      rt.ok(['create', '--bundle', bundle.dir, created]);
      const init = rt.state(created).pid;
      rt.ok(['delete', created]);
      waitFor(() => !processAlive(init), 'the created init to be killed');
      expect(rt.containerIds()).toEqual([]);
    } finally {
      bundle.cleanup();
    }
  });

  it('unknown ids: state, start, kill and delete say "container does not exist"; delete --force succeeds', () => {
    for (const cmd of [['state'], ['start'], ['kill'], ['delete']]) {
      const r = rt.run([...cmd, 'no-such-container']);
      expect(r.code, cmd[0]).toBe(1);
      expect(r.stderr).toBe('ocirun: no-such-container: container does not exist\n');
    }
    expect(rt.run(['delete', '--force', 'no-such-container']).code).toBe(0);
  });

  it('a pid reused by another process reads as stopped', () => {
    const bundle = makeBundle({ args: ['sleep', '1000'] });
    const id = uniqueId();
    try {
      rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
      const statePath = path.join(rt.root, id, 'state.json');
      const state = JSON.parse(readFileSync(statePath, 'utf8'));
      writeFileSync(statePath, JSON.stringify({ ...state, initStartTime: state.initStartTime + 1 }));
      expect(rt.state(id)).toMatchObject({ status: 'stopped', pid: 0 });
      writeFileSync(statePath, JSON.stringify(state));
      rt.ok(['delete', '--force', id]);
    } finally {
      bundle.cleanup();
    }
  });

  it('run in the foreground returns the exit code, 128+signal when killed', () => {
    const bundle = makeBundle({ args: ['sh', '-c', 'exit 7'] });
    try {
      expect(rt.run(['run', '--bundle', bundle.dir, uniqueId()]).code).toBe(7);
      // The kernel protects PID 1 from its own signals; a child shows the 128+signal rule.
      bundle.config.process.args = ['sh', '-c', 'sh -c "kill -SEGV \\$\\$"; exit $?'];
      bundle.write();
      expect(rt.run(['run', '--bundle', bundle.dir, uniqueId()]).code).toBe(139);
      expect(rt.containerIds()).toEqual([]);
    } finally {
      bundle.cleanup();
    }
  });

  it('run --keep leaves the container, stopped, for delete to remove (as runc)', () => {
    const bundle = makeBundle({ args: ['sh', '-c', 'exit 3'] });
    const id = uniqueId();
    try {
      expect(rt.run(['run', '--keep', '--bundle', bundle.dir, id]).code).toBe(3);
      expect(rt.state(id).status).toBe('stopped');
      const cgroupPaths = Object.values(JSON.parse(readFileSync(path.join(rt.root, id, 'state.json'), 'utf8')).cgroupPaths as Record<string, string>);
      expect(cgroupPaths.length).toBeGreaterThan(0);
      for (const dir of cgroupPaths) expect(existsSync(dir), dir).toBe(true);
      rt.ok(['delete', id]);
      expect(rt.containerIds()).toEqual([]);
      for (const dir of cgroupPaths) expect(existsSync(dir), dir).toBe(false);
    } finally {
      rt.run(['delete', '--force', id]);
      bundle.cleanup();
    }
  });

  it('list prints a table, JSON and ids', () => {
    const bundle = makeBundle({ args: ['sleep', '1000'] });
    const a = uniqueId('list-a');
    const b = uniqueId('list-b');
    try {
      rt.ok(['create', '--bundle', bundle.dir, a]);
      rt.ok(['run', '-d', '--bundle', bundle.dir, b]);
      const table = rt.ok(['list']).stdout.trim().split('\n');
      expect(table[0].split(/\s+/)).toEqual(['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']);
      expect(table.find((l) => l.startsWith(a))?.split(/\s+/)[2]).toBe('created');
      expect(table.find((l) => l.startsWith(b))?.split(/\s+/)[2]).toBe('running');
      const json = JSON.parse(rt.ok(['list', '--format', 'json']).stdout) as { id: string; status: string }[];
      expect(json.map((c) => [c.id, c.status]).sort()).toEqual([
        [a, 'created'],
        [b, 'running'],
      ]);
      expect(rt.ok(['list', '-q']).stdout).toBe(`${a}\n${b}\n`);
      rt.ok(['delete', '-f', a]);
      rt.ok(['delete', '-f', b]);
      expect(JSON.parse(rt.ok(['list', '-f', 'json']).stdout)).toEqual([]);
    } finally {
      bundle.cleanup();
    }
  });

  it('a created container has its own session keyring, unless --no-new-keyring', () => {
    const bundle = makeBundle({ args: ['true'] });
    const own = uniqueId('keys');
    const shared = uniqueId('keys');
    try {
      rt.ok(['create', '--bundle', bundle.dir, own]);
      rt.ok(['create', '--no-new-keyring', '--bundle', bundle.dir, shared]);
      const keys = readFileSync('/proc/keys', 'utf8');
      expect(keys).toContain(`_ses.${own}:`);
      expect(keys).not.toContain(`_ses.${shared}`);
      rt.ok(['delete', own]);
      rt.ok(['delete', shared]);
    } finally {
      bundle.cleanup();
    }
  });

  it('state files are private: directories 0700, files 0600', () => {
    const bundle = makeBundle({ args: ['true'] });
    const id = uniqueId();
    try {
      rt.ok(['create', '--bundle', bundle.dir, id]);
      expect(statSync(rt.root).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(rt.root, id)).mode & 0o777).toBe(0o700);
      expect(statSync(path.join(rt.root, id, 'state.json')).mode & 0o777).toBe(0o600);
      rt.ok(['delete', id]);
    } finally {
      bundle.cleanup();
    }
  });
});
