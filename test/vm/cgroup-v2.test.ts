// Cgroups live on a cgroup v2 host (run in the guest by `npm run test:vm`;
// skipped elsewhere): limits in the container's files and enforced, update,
// pause/resume through cgroup.freeze, OOM events from memory.events, ps, the
// eBPF device filter, the cgroup namespace, parents given their controllers,
// and nothing left after delete. The containers go under an absolute path:
// the test runner's own cgroup has processes, so no controller can be enabled
// below it (cgroup v2's "no internal processes" rule).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Runtime, bundleWithOutbox, isRoot, processAlive, uniqueId, waitFor, type BundleConfig } from '../helpers/ocirun.js';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';

const isV2Host = / \/sys\/fs\/cgroup .* - cgroup2 /.test(readFileSync('/proc/self/mountinfo', 'utf8'));

const rt = new Runtime();
const PARENT = `/ocirun-vm-test-${process.pid}`;
afterAll(() => {
  rt.dispose();
  try {
    rmdirSync(path.join('/sys/fs/cgroup', PARENT));
  } catch {
    // not made, or a test left a container (its own assertions say so)
  }
});

const cgDir = (id: string) => path.join('/sys/fs/cgroup', PARENT, id);
const cgFile = (id: string, file: string) => readFileSync(path.join(cgDir(id), file), 'utf8').trim();

/** A detached container in PARENT/<id> running `script`, its outbox, and a cleanup that deletes it. */
function start(script: string, mutate?: (c: BundleConfig) => void) {
  const id = uniqueId('v2');
  const b = bundleWithOutbox(rt, script, (c) => {
    c.linux.cgroupsPath = `${PARENT}/${id}`;
    mutate?.(c);
  });
  started.push(() => {
    rt.run(['delete', '--force', id]);
    b.bundle.cleanup();
  });
  rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
  return { id, ...b };
}

const started: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of started.splice(0)) cleanup();
});

describe.skipIf(!isRoot || !isV2Host)('cgroups (v2 host)', () => {
  it('resources land in the v2 files, parents get the controllers enabled, and the container sees its own cgroup at /', () => {
    const c = start('cat /proc/self/cgroup > /out/cgroup; cat /sys/fs/cgroup/memory.max > /out/max; echo ok > /out/ready; sleep 987', (cfg) => {
      cfg.linux.resources = {
        memory: { limit: 64 << 20, reservation: 16 << 20 },
        pids: { limit: 40 },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
        blockIO: { weight: 500 },
        unified: { 'memory.high': String(48 << 20) },
      };
      cfg.linux.namespaces.push({ type: 'cgroup' });
    });
    waitFor(() => c.out('ready') !== '', 'the container');
    expect(cgFile(c.id, 'memory.max')).toBe(String(64 << 20));
    expect(cgFile(c.id, 'memory.low')).toBe(String(16 << 20));
    expect(cgFile(c.id, 'memory.high')).toBe(String(48 << 20));
    expect(cgFile(c.id, 'pids.max')).toBe('40');
    expect(cgFile(c.id, 'cpu.max')).toBe('50000 100000');
    expect(cgFile(c.id, 'cpu.weight')).toBe('20'); // shares 512 → weight 1 + (512-2)*9999/262142
    expect(cgFile(c.id, 'cpuset.cpus')).toBe('0');
    expect(cgFile(c.id, 'cpuset.mems')).toBe('0');
    // blkio weight 500 as is for BFQ, else mapped onto io.weight's 1..10000: 1 + (500-10)*9999/990
    if (existsSync(path.join(cgDir(c.id), 'io.bfq.weight'))) expect(cgFile(c.id, 'io.bfq.weight')).toMatch(/^default 500$/m);
    else expect(cgFile(c.id, 'io.weight')).toMatch(/^default 4950$/m);
    // The parent was made with every controller the container needs enabled for its children.
    const enabled = readFileSync(path.join('/sys/fs/cgroup', PARENT, 'cgroup.subtree_control'), 'utf8').trim().split(' ');
    expect(enabled).toEqual(expect.arrayContaining(['cpu', 'cpuset', 'io', 'memory', 'pids']));
    // In its cgroup namespace the container is at the root, and /sys/fs/cgroup is its own cgroup.
    expect(c.out('cgroup')).toBe('0::/\n');
    expect(c.out('max')).toBe(`${64 << 20}\n`);
    expect(readFileSync(path.join(cgDir(c.id), 'cgroup.procs'), 'utf8').trim().split('\n')).toContain(String(rt.state(c.id).pid));
  });

  it('memory: a process above memory.max is OOM-killed, and events reports the OOM from memory.events', () => {
    const c = start(
      'echo ready > /out/ready; while [ ! -e /out/go ]; do sleep 0.05; done; ' +
        'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd $?" > /out/result; sleep 987',
      (cfg) => {
        cfg.linux.resources = { memory: { limit: 32 << 20, swap: 32 << 20 } };
      },
    );
    waitFor(() => c.out('ready') !== '', 'the container');
    expect(cgFile(c.id, 'memory.max')).toBe(String(32 << 20));
    const eventsFile = rt.scratchPath(`events-${c.id}`);
    const fd = openSync(eventsFile, 'w');
    const events = spawn(OCIRUN_BIN, ['--root', rt.root, 'events', '--interval', '200ms', c.id], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    try {
      const read = () => readFileSync(eventsFile, 'utf8');
      waitFor(() => read().includes('"type":"stats"'), 'a first stats event', 20_000);
      writeFileSync(path.join(c.outbox, 'go'), '');
      waitFor(() => c.out('result') !== '', 'dd to end', 20_000);
      expect(c.out('result')).toBe('dd 137\n');
      waitFor(() => read().includes(`{"type":"oom","id":"${c.id}"}`), 'the oom event', 20_000);
      expect(Number(/oom_kill (\d+)/.exec(cgFile(c.id, 'memory.events'))![1])).toBeGreaterThan(0);
    } finally {
      events.kill('SIGKILL');
    }
  });

  it('pids: pids.max stops forks inside the container', () => {
    const c = start('(for i in $(seq 30); do sleep 987 & done) 2>/out/err; echo done > /out/result; sleep 987', (cfg) => {
      cfg.linux.resources = { pids: { limit: 8 } };
    });
    waitFor(() => c.out('result') !== '', 'the loop', 20_000);
    expect(c.out('err')).toMatch(/can't fork/);
    expect(Number(cgFile(c.id, 'pids.current'))).toBeLessThanOrEqual(8);
    expect(Number(/max (\d+)/.exec(cgFile(c.id, 'pids.events'))![1])).toBeGreaterThan(0);
  });

  it('update changes memory, pids and cpu in the files', () => {
    const c = start('echo ok > /out/ready; sleep 987', (cfg) => {
      cfg.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 40 } };
    });
    waitFor(() => c.out('ready') !== '', 'the container');
    rt.ok(['update', '--memory', String(96 << 20), '--pids-limit', '50', '--cpu-quota', '20000', '--cpu-period', '100000', '--cpu-share', '1024', c.id]);
    expect(cgFile(c.id, 'memory.max')).toBe(String(96 << 20));
    expect(cgFile(c.id, 'pids.max')).toBe('50');
    expect(cgFile(c.id, 'cpu.max')).toBe('20000 100000');
    expect(cgFile(c.id, 'cpu.weight')).toBe('39');
  });

  it('pause and resume go through cgroup.freeze; ps lists the processes; kill --all reaches every one', () => {
    const c = start('sleep 986 & sleep 985 & echo ok > /out/ready; wait');
    waitFor(() => c.out('ready') !== '', 'the container');
    const ps = JSON.parse(rt.ok(['ps', '--format', 'json', c.id]).stdout) as number[];
    expect(ps.sort()).toEqual(readFileSync(path.join(cgDir(c.id), 'cgroup.procs'), 'utf8').trim().split('\n').map(Number).sort());
    expect(ps.length).toBe(3);
    rt.ok(['pause', c.id]);
    expect(cgFile(c.id, 'cgroup.freeze')).toBe('1');
    expect(cgFile(c.id, 'cgroup.events')).toMatch(/^frozen 1$/m);
    expect(rt.state(c.id).status).toBe('paused');
    rt.ok(['resume', c.id]);
    expect(cgFile(c.id, 'cgroup.events')).toMatch(/^frozen 0$/m);
    expect(rt.state(c.id).status).toBe('running');
    rt.ok(['kill', '--all', c.id, 'KILL']);
    waitFor(() => ps.every((p) => !processAlive(p)), 'every process to die');
    expect(cgFile(c.id, 'cgroup.procs')).toBe('');
  });

  it('devices: a denied device cannot be opened (eBPF filter), the default devices stay usable', () => {
    const c = start('(echo x > /dev/zero) 2>/out/zero; echo "zero $?" >> /out/zero; (echo x > /dev/null) 2>/out/null; echo "null $?" >> /out/null; echo ok > /out/ready; sleep 987', (cfg) => {
      // /dev/zero (c 1:5) is one of the default devices: a rule denying it takes it away.
      cfg.linux.resources = { devices: [{ allow: false, type: 'c', major: 1, minor: 5, access: 'rwm' }] };
    });
    waitFor(() => c.out('ready') !== '', 'the container');
    expect(c.out('null')).toBe('null 0\n');
    expect(c.out('zero')).toMatch(/Operation not permitted[\s\S]*zero 1\n$/);
  });

  it('delete leaves no cgroup behind', () => {
    const c = start('echo ok > /out/ready; sleep 987', (cfg) => {
      cfg.linux.resources = { pids: { limit: 10 } };
    });
    waitFor(() => c.out('ready') !== '', 'the container');
    expect(existsSync(cgDir(c.id))).toBe(true);
    rt.ok(['delete', '--force', c.id]);
    expect(existsSync(cgDir(c.id))).toBe(false);
  });
});
