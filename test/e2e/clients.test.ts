// ocirun under its real clients: containerd (ctr + containerd-shim-runc-v2,
// with --runc-binary) and podman (--runtime). The suite starts its own
// containerd with its own config, state dir and socket, and stops it at the end.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN, buildRootfs } from '../../fixtures/bundle.mjs';
import { ctrIn, startContainerd, type Result } from '../helpers/containerd.js';
import { isRoot, sleep, waitFor } from '../helpers/ocirun.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const haveContainerd = isRoot && have('containerd') && have('ctr') && have('containerd-shim-runc-v2');
const havePodman = isRoot && have('podman');
if (isRoot && !haveContainerd) console.warn('skipping containerd tests: install the Debian package containerd');
if (isRoot && !havePodman) console.warn('skipping podman tests: install the Debian package podman');

const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-clients-'));
const rootfs = path.join(scratch, 'rootfs');
const namespace = `ocirun-test-${process.pid}`;
let containerd: ChildProcess | undefined;

function ctr(args: string[], input?: string): Result {
  return ctrIn(scratch, namespace, args, input);
}

function ctrRun(id: string, args: string[], opts: string[] = [], input?: string): Result {
  return ctr(['run', '--runc-binary', OCIRUN_BIN, '--rootfs', ...opts, rootfs, id, ...args], input);
}

function taskStatus(id: string): string | undefined {
  const line = ctr(['task', 'ls'])
    .stdout.split('\n')
    .find((l) => l.startsWith(`${id} `));
  return line?.trim().split(/\s+/)[2];
}

function removeTask(id: string): void {
  ctr(['task', 'kill', '-s', 'SIGKILL', id]);
  waitFor(() => taskStatus(id) !== 'RUNNING' && taskStatus(id) !== 'PAUSED', `${id} to stop`);
  ctr(['task', 'delete', id]);
  ctr(['container', 'delete', id]);
}

/** rmdir, deepest first, of the named cgroups in every hierarchy; busy ones stay. */
function removeEmptyCgroups(names: string[]): void {
  const removeTree = (dir: string) => {
    let children: string[] = [];
    try {
      children = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return; // absent
    }
    for (const child of children) removeTree(path.join(dir, child));
    try {
      rmdirSync(dir);
    } catch {
      // still has processes: not ours to force
    }
  };
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    for (const name of names) removeTree(path.join('/sys/fs/cgroup', hierarchy, name));
  }
}

beforeAll(() => {
  buildRootfs(rootfs);
  if (!haveContainerd) return;
  containerd = startContainerd(scratch);
});

afterAll(async () => {
  if (containerd) {
    for (const id of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) removeTask(id);
    ctr(['namespace', 'remove', namespace]);
    const stopped = new Promise((resolve) => containerd!.once('exit', resolve));
    containerd.kill('SIGTERM');
    await stopped;
    rmSync(`/run/containerd/runc/${namespace}`, { recursive: true, force: true });
  }
  // The shim puts containers under a cgroup named after the namespace, and
  // podman under libpod_parent; the runtime removes only the container's own.
  removeEmptyCgroups([namespace, 'libpod_parent']);
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!haveContainerd)('containerd (ctr --runc-binary bin/ocirun)', () => {
  it('runs a container in the foreground: output and exit code', () => {
    const r = ctrRun('fg', ['sh', '-c', 'echo hello from ocirun; echo pid=$$; exit 3'], ['--rm']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from ocirun\npid=1\n');
    expect(r.code).toBe(3);
  });

  it('passes env and cwd', () => {
    const r = ctrRun('envcwd', ['sh', '-c', 'echo $FOO; pwd'], ['--rm', '--env', 'FOO=bar', '--cwd', '/tmp']);
    expect(r.stdout).toBe('bar\n/tmp\n');
    expect(r.code).toBe(0);
  });

  it('detached: exec, ps, pause and resume, kill, delete', () => {
    const id = 'detached';
    expect(ctrRun(id, ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /tmp/next; mv /tmp/next /tmp/count; sleep 0.05; done'], ['-d']).code).toBe(0);
    try {
      expect(taskStatus(id)).toBe('RUNNING');
      const exec = ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo in-exec; cat'], 'exec-stdin\n');
      expect(exec.stdout).toBe('in-exec\nexec-stdin\n');
      const failing = ctr(['task', 'exec', '--exec-id', 'e2', id, 'sh', '-c', 'exit 5']);
      expect(failing.code, failing.stderr).toBe(5);

      const ps = ctr(['task', 'ps', id]);
      expect(ps.code, ps.stderr).toBe(0);
      const pids = ps.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => Number(l.trim().split(/\s+/)[0]));
      expect(pids.length).toBeGreaterThanOrEqual(1);

      expect(ctr(['task', 'pause', id]).code).toBe(0);
      expect(taskStatus(id)).toBe('PAUSED');
      const read = () => {
        const r = ctr(['task', 'exec', '--exec-id', `r${Date.now()}`, id, 'cat', '/tmp/count']);
        expect(r.code, r.stderr).toBe(0);
        return Number(r.stdout);
      };
      expect(ctr(['task', 'resume', id]).code).toBe(0);
      expect(taskStatus(id)).toBe('RUNNING');
      const before = read();
      sleep(300);
      expect(read()).toBeGreaterThan(before);

      expect(ctr(['task', 'kill', '-s', 'SIGKILL', id]).code).toBe(0);
      waitFor(() => taskStatus(id) === 'STOPPED', 'the task to stop');
      expect(ctr(['task', 'delete', id]).code).toBe(0);
      expect(ctr(['container', 'delete', id]).code).toBe(0);
      expect(existsSync(`/run/containerd/runc/${namespace}/${id}`)).toBe(false);
    } finally {
      if (taskStatus(id)) removeTask(id);
    }
  });

  it('a tty container (ctr run -t under a pseudo-terminal)', () => {
    const command = `ctr --address ${scratch}/containerd.sock --namespace ${namespace} run --rm -t --runc-binary ${OCIRUN_BIN} --rootfs ${rootfs} tty sh -c 'tty; echo tty-ok'`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout.replace(/\r/g, '')).toContain('/dev/pts/0\ntty-ok\n');
  });

  it("task metrics reads the container's cgroup", () => {
    const id = 'metrics';
    expect(ctrRun(id, ['sleep', '1000'], ['-d']).code).toBe(0);
    try {
      const m = ctr(['task', 'metrics', id]);
      expect(m.code, m.stderr).toBe(0);
      expect(m.stdout).toMatch(/memory\.usage_in_bytes\s+\d+/);
    } finally {
      removeTask(id);
    }
  });
});

describe.skipIf(!havePodman)('podman --runtime bin/ocirun', () => {
  it('runs a container', () => {
    const r = spawnSync(
      'podman',
      [
        '--runtime',
        OCIRUN_BIN,
        '--cgroup-manager',
        'cgroupfs',
        '--events-backend',
        'file',
        'run',
        '--rm',
        '--network',
        'none',
        // The host withholds CAP_SYS_RESOURCE: podman's default ulimits would need it.
        '--ulimit',
        'nofile=1024:1024',
        '--ulimit',
        'nproc=1024:1024',
        '--rootfs',
        rootfs,
        'sh',
        '-c',
        'echo hello from podman; echo pid=$$; exit 4',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.stdout).toBe('hello from podman\npid=1\n');
    expect(r.status).toBe(4);
  });
});
