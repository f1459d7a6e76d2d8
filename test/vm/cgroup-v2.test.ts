// Cgroups live on a cgroup v2 host (run in the guest by `npm run test:vm`;
// skipped elsewhere): limits in the container's files and enforced (memory,
// swap, cpu with burst and idle, cpuset, pids, io weights and throttles on a
// block device of the guest, hugetlb, rdma, unified), update, pause/resume
// through cgroup.freeze, OOM events from memory.events, ps, kill --all through
// cgroup.kill, the clone straight into the cgroup, the eBPF device filter,
// the cgroup namespace, nested parents given their controllers, and nothing
// left after delete. The containers go under an absolute path:
// the test runner's own cgroup has processes, so no controller can be enabled
// below it (cgroup v2's "no internal processes" rule).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Runtime, bundleWithOutbox, isRoot, makeBundle, processAlive, refusedCreate, uniqueId, waitFor, type BundleConfig } from '../helpers/ocirun.js';
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

/** A detached container in PARENT/<id> (or PARENT/<under>/<id>) running `script`, its outbox, and a cleanup that deletes it. */
function start(script: string, mutate?: (c: BundleConfig) => void, under = '') {
  const id = uniqueId('v2');
  const b = bundleWithOutbox(rt, script, (c) => {
    c.linux.cgroupsPath = path.join(PARENT, under, id);
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
    const enabled = readFileSync(path.join('/sys/fs/cgroup', PARENT, 'cgroup.subtree_control'), 'utf8')
      .trim()
      .split(' ');
    expect(enabled).toEqual(expect.arrayContaining(['cpu', 'cpuset', 'io', 'memory', 'pids']));
    // In its cgroup namespace the container is at the root, and /sys/fs/cgroup is its own cgroup.
    expect(c.out('cgroup')).toBe('0::/\n');
    expect(c.out('max')).toBe(`${64 << 20}\n`);
    expect(
      readFileSync(path.join(cgDir(c.id), 'cgroup.procs'), 'utf8')
        .trim()
        .split('\n'),
    ).toContain(String(rt.state(c.id).pid));
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
    expect(ps.sort()).toEqual(
      readFileSync(path.join(cgDir(c.id), 'cgroup.procs'), 'utf8')
        .trim()
        .split('\n')
        .map(Number)
        .sort(),
    );
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
    const c = start(
      '(echo x > /dev/zero) 2>/out/zero; echo "zero $?" >> /out/zero; (echo x > /dev/null) 2>/out/null; echo "null $?" >> /out/null; echo ok > /out/ready; sleep 987',
      (cfg) => {
        // /dev/zero (c 1:5) is one of the default devices: a rule denying it takes it away.
        cfg.linux.resources = { devices: [{ allow: false, type: 'c', major: 1, minor: 5, access: 'rwm' }] };
      },
    );
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

  it('memory.swap becomes memory.swap.max (memory+swap − memory); cpu burst and idle; hugetlb with its reservation; unified io.max one line per device', () => {
    const dev = nullBlockDevice();
    const c = start('echo ok > /out/ready; sleep 987', (cfg) => {
      cfg.linux.resources = {
        memory: { limit: 64 << 20, swap: 96 << 20 },
        cpu: { quota: 50000, period: 100000, burst: 20000, idle: 1 },
        hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }],
        unified: { 'io.max': `${dev} rbps=1048576\n${dev} wiops=300` },
      };
    });
    waitFor(() => c.out('ready') !== '', 'the container');
    expect(cgFile(c.id, 'memory.swap.max')).toBe(String(32 << 20));
    expect(cgFile(c.id, 'cpu.max')).toBe('50000 100000');
    expect(cgFile(c.id, 'cpu.max.burst')).toBe('20000');
    expect(cgFile(c.id, 'cpu.idle')).toBe('1');
    expect(cgFile(c.id, 'hugetlb.2MB.max')).toBe(String(4 << 20));
    expect(cgFile(c.id, 'hugetlb.2MB.rsvd.max')).toBe(String(4 << 20));
    expect(cgFile(c.id, 'io.max')).toBe(`${dev} rbps=1048576 wbps=max riops=max wiops=300`);
    // A smaller quota with a smaller burst: the burst goes first (the kernel refuses a quota below the burst)...
    const resources = rt.scratchPath(`resources-${c.id}.json`);
    writeFileSync(resources, JSON.stringify({ cpu: { quota: 10000, burst: 5000, idle: 0 } }));
    rt.ok(['update', '-r', resources, c.id]);
    expect([cgFile(c.id, 'cpu.max'), cgFile(c.id, 'cpu.max.burst'), cgFile(c.id, 'cpu.idle')]).toEqual(['10000 100000', '5000', '0']);
    // ...and a burst above the old quota goes after the new quota.
    writeFileSync(resources, JSON.stringify({ cpu: { quota: 80000, burst: 60000 }, memory: { limit: -1 } }));
    rt.ok(['update', '-r', resources, c.id]);
    expect([cgFile(c.id, 'cpu.max'), cgFile(c.id, 'cpu.max.burst')]).toEqual(['80000 100000', '60000']);
    // No memory limit and no swap setting: no swap limit either (as runc).
    expect([cgFile(c.id, 'memory.max'), cgFile(c.id, 'memory.swap.max')]).toEqual(['max', 'max']);
  });

  it('io: weight and per-device weight through BFQ when the device uses it, throttles in io.max; a per-device weight without BFQ is refused', () => {
    const dev = nullBlockDevice();
    const [major, minor] = dev.split(':').map(Number);
    const blockIO = (weightDevice: boolean) => ({
      weight: 500,
      ...(weightDevice ? { weightDevice: [{ major, minor, weight: 200 }] } : {}),
      throttleReadBpsDevice: [{ major, minor, rate: 1 << 20 }],
      throttleWriteBpsDevice: [{ major, minor, rate: 2 << 20 }],
      throttleReadIOPSDevice: [{ major, minor, rate: 100 }],
      throttleWriteIOPSDevice: [{ major, minor, rate: 200 }],
    });
    const noBfq = !existsSync(path.join('/sys/fs/cgroup', PARENT, 'io.bfq.weight'));
    if (noBfq) {
      const bundle = rt.track(
        makeBundle({
          args: ['true'],
          mutate: (cfg) => {
            cfg.linux.cgroupsPath = `${PARENT}/weight-device`;
            cfg.linux.resources = { blockIO: blockIO(true) };
          },
        }),
      );
      expect(refusedCreate(rt, bundle)).toMatch(/^ocirun: linux\.resources\.blockIO\.weightDevice\[0\]\.weight: .*needs the BFQ I\/O scheduler/);
      expect(existsSync(path.join('/sys/fs/cgroup', PARENT, 'weight-device'))).toBe(false);
      const c = start('echo ok > /out/ready; sleep 987', (cfg) => {
        cfg.linux.resources = { blockIO: blockIO(false) };
      });
      waitFor(() => c.out('ready') !== '', 'the container');
      expect(cgFile(c.id, 'io.weight')).toMatch(/^default 4950$/m);
      expect(cgFile(c.id, 'io.max')).toBe(`${dev} rbps=1048576 wbps=2097152 riops=100 wiops=200`);
      rt.ok(['delete', '--force', c.id]);
    }
    execFileSync('modprobe', ['bfq']);
    writeFileSync(`/sys/dev/block/${dev}/queue/scheduler`, 'bfq');
    const c = start('echo ok > /out/ready; sleep 987', (cfg) => {
      cfg.linux.resources = { blockIO: blockIO(true) };
    });
    waitFor(() => c.out('ready') !== '', 'the container');
    expect(cgFile(c.id, 'io.bfq.weight').split('\n')).toEqual(['default 500', `${dev} 200`]);
    expect(cgFile(c.id, 'io.max')).toBe(`${dev} rbps=1048576 wbps=2097152 riops=100 wiops=200`);
  });

  it('rdma: a limit for a device the host does not have is refused, naming it, and leaves no cgroup', () => {
    const bundle = rt.track(
      makeBundle({
        args: ['true'],
        mutate: (cfg) => {
          cfg.linux.cgroupsPath = `${PARENT}/rdma`;
          cfg.linux.resources = { rdma: { mlx5_0: { hcaHandles: 3, hcaObjects: 100 } } };
        },
      }),
    );
    expect(readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8')).toMatch(/\brdma\b/);
    expect(refusedCreate(rt, bundle)).toMatch(
      /^ocirun: linux\.resources\.rdma\.mlx5_0: cannot write "mlx5_0 hca_handle=3 hca_object=100" to .*rdma\.max: ENODEV/,
    );
    expect(existsSync(path.join('/sys/fs/cgroup', PARENT, 'rdma'))).toBe(false);
  });

  it('clone3 puts the init in its cgroup: counted by pids.max from the clone on; refused by a pids limit of 0, it is moved in after a plain clone', () => {
    const created = (limit: number) => {
      const id = uniqueId('clone');
      const b = rt.track(
        makeBundle({
          args: ['sleep', '987'],
          mutate: (cfg) => {
            cfg.linux.cgroupsPath = `${PARENT}/${id}`;
            cfg.linux.resources = { pids: { limit } };
          },
        }),
      );
      started.push(() => rt.run(['delete', '--force', id]));
      rt.ok(['create', '--bundle', b.dir, id]);
      return { id, pid: rt.state(id).pid };
    };
    // Before start, the init is in the container's cgroup, and the only process there.
    const one = created(1);
    expect(readFileSync(`/proc/${one.pid}/cgroup`, 'utf8')).toBe(`0::${PARENT}/${one.id}\n`);
    expect(cgFile(one.id, 'pids.current')).toBe('1');
    expect(cgFile(one.id, 'pids.events')).toBe('max 0');
    // pids.max 0: the kernel refused the clone into the cgroup (and counted it there); a plain clone and a move followed.
    const none = created(0);
    expect(cgFile(none.id, 'pids.events')).toBe('max 1');
    expect(readFileSync(`/proc/${none.pid}/cgroup`, 'utf8')).toBe(`0::${PARENT}/${none.id}\n`);
    rt.ok(['start', none.id]);
    expect(rt.state(none.id).status).toBe('running');
  });

  it("kill --all KILL goes through cgroup.kill: a fork loop and a process that left the init's tree die too", () => {
    const c = start('setsid sh -c "sleep 984 & echo \\$! > /out/daemon" & while :; do sleep 983 & sleep 0.01; done', (cfg) => {
      // The host's PID namespace: the daemon is adopted by the guest's init, not the container's.
      cfg.linux.namespaces = cfg.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid');
      cfg.linux.resources = { pids: { limit: 200 } };
    });
    waitFor(() => c.out('daemon') !== '', 'the daemon');
    const daemon = Number(c.out('daemon'));
    expect(readFileSync(`/proc/${daemon}/stat`, 'utf8').split(' ')[3]).not.toBe(String(rt.state(c.id).pid));
    waitFor(() => cgFile(c.id, 'cgroup.procs').split('\n').length > 10, 'the loop to fork');
    rt.ok(['kill', '--all', c.id, 'KILL']);
    waitFor(() => cgFile(c.id, 'cgroup.procs') === '', 'every process to die');
    expect(processAlive(daemon)).toBe(false);
    expect(cgFile(c.id, 'cgroup.events')).toMatch(/^populated 0$/m);
  });

  it("a nested cgroupsPath: the parents are made with the controllers enabled, and delete removes only the container's own", () => {
    const c = start(
      'echo ok > /out/ready; sleep 987',
      (cfg) => {
        cfg.linux.resources = { memory: { limit: 32 << 20 }, pids: { limit: 20 } };
      },
      'a/b',
    );
    const dir = path.join('/sys/fs/cgroup', PARENT, 'a/b', c.id);
    try {
      waitFor(() => c.out('ready') !== '', 'the container');
      expect(readFileSync(path.join(dir, 'memory.max'), 'utf8')).toBe(`${32 << 20}\n`);
      for (const parent of [PARENT, `${PARENT}/a`, `${PARENT}/a/b`]) {
        expect(
          readFileSync(path.join('/sys/fs/cgroup', parent, 'cgroup.subtree_control'), 'utf8')
            .trim()
            .split(' '),
        ).toEqual(expect.arrayContaining(['memory', 'pids']));
      }
      rt.ok(['delete', '--force', c.id]);
      expect(existsSync(dir)).toBe(false);
      expect(existsSync(path.dirname(dir))).toBe(true);
    } finally {
      for (const d of [`${PARENT}/a/b`, `${PARENT}/a`]) {
        try {
          rmdirSync(path.join('/sys/fs/cgroup', d));
        } catch {
          // the assertions above say why
        }
      }
    }
  });
});

/** A block device of the guest for io limits: null_blk's nullb0, as "major:minor". */
function nullBlockDevice(): string {
  if (!existsSync('/sys/block/nullb0')) execFileSync('modprobe', ['null_blk', 'nr_devices=1']);
  return readFileSync('/sys/block/nullb0/dev', 'utf8').trim();
}
