// The cgroup v1 driver against a fake cgroupfs: one directory per hierarchy,
// the files and values written for each resource (and their order where the
// kernel cares), the device rules, the freezer, statistics, and errors.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configureLog } from '../../src/log.js';
import { OciError } from '../../src/errors.js';
import { effectiveRules, emulate, v1Writes } from '../../src/cgroups/devices.js';
import { toJson } from '../../src/cgroups/stats.js';
import type { LinuxResources } from '../../src/cgroups/types.js';
import { V1Manager } from '../../src/cgroups/v1.js';
import { FakeCgroupfs, errorOf } from '../helpers/fake-cgroupfs.js';

const UNLIMITED = '9223372036854771712';

/** The files a kernel shows in a new cgroup of each v1 hierarchy. */
const KERNEL_FILES: Record<string, Record<string, string>> = {
  memory: {
    'memory.limit_in_bytes': UNLIMITED,
    'memory.memsw.limit_in_bytes': UNLIMITED,
    'memory.soft_limit_in_bytes': UNLIMITED,
    'memory.kmem.limit_in_bytes': UNLIMITED,
    'memory.kmem.tcp.limit_in_bytes': UNLIMITED,
    'memory.swappiness': '60',
    'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    'memory.use_hierarchy': '1',
  },
  cpu: {
    'cpu.shares': '1024',
    'cpu.cfs_period_us': '100000',
    'cpu.cfs_quota_us': '-1',
    'cpu.cfs_burst_us': '0',
    'cpu.rt_period_us': '1000000',
    'cpu.rt_runtime_us': '0',
    'cpu.idle': '0',
  },
  cpuacct: {},
  cpuset: { 'cpuset.cpus': '', 'cpuset.mems': '' },
  pids: { 'pids.max': 'max', 'pids.current': '0' },
  devices: { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm' },
  freezer: { 'freezer.state': 'THAWED' },
  blkio: {
    'blkio.bfq.weight': '100',
    'blkio.bfq.weight_device': '',
    'blkio.throttle.read_bps_device': '',
    'blkio.throttle.write_bps_device': '',
    'blkio.throttle.read_iops_device': '',
    'blkio.throttle.write_iops_device': '',
  },
  'name=systemd': {},
};

let fs: FakeCgroupfs;
beforeEach(() => {
  fs = new FakeCgroupfs();
});
afterEach(() => fs.dispose());

/** A container at /ocirun/c1 in every hierarchy (the directories already made, as by create). */
function manager(files: Partial<Record<string, Record<string, string>>> = {}, hierarchies = Object.keys(KERNEL_FILES)): V1Manager {
  return new V1Manager(
    hierarchies.map((h) => {
      const mountPoint = fs.dir(h.replace('name=', ''), { 'cgroup.procs': '1\n', 'cpuset.cpus': '0-1', 'cpuset.mems': '0' });
      fs.dir(`${h.replace('name=', '')}/ocirun`, { 'cgroup.procs': '', 'cpuset.cpus': '0-1', 'cpuset.mems': '0' });
      const dir = fs.dir(`${h.replace('name=', '')}/ocirun/c1`, { 'cgroup.procs': '', ...KERNEL_FILES[h], ...files[h] });
      return { controllers: [h], dir, mountPoint };
    }),
  );
}

function set(m: V1Manager, r: LinuxResources, update = false): void {
  fs.clearWrites();
  m.set(r, { update });
}

const onlyWrites = (prefix: string) => fs.writes.filter(([f]) => f.startsWith(prefix));

describe('cgroup v1: memory', () => {
  it('writes limit, swap, reservation, swappiness, OOM killer and kernel limits to their files', () => {
    const m = manager();
    set(m, { memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, swappiness: 10, disableOOMKiller: true, kernelTCP: 1 << 20 } });
    expect(onlyWrites('memory/')).toEqual([
      ['memory/ocirun/c1/memory.limit_in_bytes', String(64 << 20)],
      ['memory/ocirun/c1/memory.memsw.limit_in_bytes', String(128 << 20)],
      ['memory/ocirun/c1/memory.soft_limit_in_bytes', String(32 << 20)],
      ['memory/ocirun/c1/memory.kmem.tcp.limit_in_bytes', String(1 << 20)],
      ['memory/ocirun/c1/memory.swappiness', '10'],
      ['memory/ocirun/c1/memory.oom_control', '1'],
    ]);
  });

  it('orders limit and memory+swap so the limit never exceeds memory+swap', () => {
    const m = manager({ memory: { 'memory.limit_in_bytes': String(100 << 20), 'memory.memsw.limit_in_bytes': String(200 << 20) } });
    set(m, { memory: { limit: 300 << 20, swap: 600 << 20 } }, true); // raising: memsw first
    expect(onlyWrites('memory/').map(([f]) => path.basename(f))).toEqual(['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes']);
    fs.set('memory/ocirun/c1/memory.memsw.limit_in_bytes', String(600 << 20));
    set(m, { memory: { limit: 50 << 20, swap: 60 << 20 } }, true); // lowering: limit first
    expect(onlyWrites('memory/').map(([f]) => path.basename(f))).toEqual(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);
    fs.set('memory/ocirun/c1/memory.memsw.limit_in_bytes', String(60 << 20));
    expect(errorOf(() => set(m, { memory: { limit: 100 << 20 } }, true)).message).toBe(
      'linux.resources.memory.limit: 104857600 is above the memory+swap limit 62914560: set memory.swap as well',
    );
    set(m, { memory: { limit: -1 } }, true); // no limit: memory+swap goes first to no limit too
    expect(onlyWrites('memory/')).toEqual([
      ['memory/ocirun/c1/memory.memsw.limit_in_bytes', '-1'],
      ['memory/ocirun/c1/memory.limit_in_bytes', '-1'],
    ]);
  });

  it('checkBeforeUpdate refuses a limit below the current usage, before anything is written', () => {
    const m = manager({ memory: { 'memory.usage_in_bytes': String(50 << 20) } });
    expect(errorOf(() => set(m, { memory: { limit: 10 << 20, swap: 20 << 20, checkBeforeUpdate: true } }, true)).message).toBe(
      'linux.resources.memory.limit: 10485760 is below the current usage 52428800 (checkBeforeUpdate)',
    );
    expect(fs.writes).toEqual([]);
    set(m, { memory: { limit: 60 << 20, checkBeforeUpdate: true } }, true);
    expect(onlyWrites('memory/')).toEqual([['memory/ocirun/c1/memory.limit_in_bytes', String(60 << 20)]]);
    set(m, { memory: { limit: 10 << 20 } }, true);
    expect(onlyWrites('memory/')).toEqual([['memory/ocirun/c1/memory.limit_in_bytes', String(10 << 20)]]);
  });

  it('without swap accounting refuses a swap limit, naming the field', () => {
    const m = manager();
    rmSync(path.join(fs.root, 'memory/ocirun/c1/memory.memsw.limit_in_bytes'));
    expect(errorOf(() => set(m, { memory: { limit: 1 << 20, swap: 2 << 20 } })).message).toMatch(
      /^linux\.resources\.memory\.swap: this kernel does not account swap/,
    );
    set(m, { memory: { limit: 1 << 20, swap: -1 } });
    expect(onlyWrites('memory/')).toEqual([['memory/ocirun/c1/memory.limit_in_bytes', String(1 << 20)]]);
  });

  it('warns when the kernel takes a kernel memory limit but does not keep it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-log-'));
    const log = path.join(dir, 'log');
    configureLog({ file: log, format: 'json', debug: false });
    try {
      const m = manager();
      set(m, { memory: { kernel: 8 << 20 } });
      expect(readFileSync(log, 'utf8')).toBe(''); // the value stuck: nothing to say
      fs.onWrite('memory/ocirun/c1/memory.kmem.limit_in_bytes', () => UNLIMITED); // Linux 6.x: accepted, ignored
      set(m, { memory: { kernel: 8 << 20 } });
      const entry = JSON.parse(readFileSync(log, 'utf8'));
      expect(entry.level).toBe('warning');
      expect(entry.msg).toMatch(/^linux\.resources\.memory\.kernel: the kernel accepted 8388608 but does not enforce kernel memory limits any more/);
    } finally {
      configureLog({ format: 'text', debug: false });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cgroup v1: cpu, cpuset, pids, blkio', () => {
  it('writes shares, period, quota, burst, real-time, idle, cpus and mems', () => {
    const m = manager();
    set(m, { cpu: { shares: 512, period: 50000, quota: 25000, realtimePeriod: 100000, realtimeRuntime: 5000, idle: 0, cpus: '0', mems: '0' } }, true);
    expect(fs.writes).toEqual([
      ['cpu/ocirun/c1/cpu.shares', '512'],
      ['cpu/ocirun/c1/cpu.cfs_period_us', '50000'],
      ['cpu/ocirun/c1/cpu.cfs_quota_us', '25000'],
      ['cpu/ocirun/c1/cpu.rt_period_us', '100000'],
      ['cpu/ocirun/c1/cpu.rt_runtime_us', '5000'],
      ['cpu/ocirun/c1/cpu.idle', '0'],
      ['cpuset/ocirun/c1/cpuset.cpus', '0'],
      ['cpuset/ocirun/c1/cpuset.mems', '0'],
    ]);
    set(m, { cpu: { quota: -1 } }, true);
    expect(fs.writes).toEqual([['cpu/ocirun/c1/cpu.cfs_quota_us', '-1']]);
  });

  it('writes a real-time runtime longer than the old period after the new period, and a shorter period after the runtime', () => {
    const m = manager({ cpu: { 'cpu.rt_period_us': '10000', 'cpu.rt_runtime_us': '9000' } });
    set(m, { cpu: { realtimePeriod: 5000, realtimeRuntime: 1000 } }, true);
    expect(fs.writes.map(([f]) => path.basename(f))).toEqual(['cpu.rt_runtime_us', 'cpu.rt_period_us']);
  });

  it('fails when the kernel clamps cpu.shares', () => {
    const m = manager();
    fs.onWrite('cpu/ocirun/c1/cpu.shares', (v) => String(Math.min(Number(v), 262144)));
    set(m, { cpu: { shares: 262144 } }, true);
    expect(errorOf(() => set(m, { cpu: { shares: 300000 } }, true)).message).toBe(
      'linux.resources.cpu.shares: the kernel turned 300000 into 262144 (its range is 2 to 262144)',
    );
  });

  it("writes pids.max and the blkio files (BFQ's when CFQ's are absent)", () => {
    const m = manager();
    set(
      m,
      {
        pids: { limit: 10 },
        blockIO: {
          weight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 200 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 10 }],
        },
      },
      true,
    );
    expect(fs.writes).toEqual([
      ['pids/ocirun/c1/pids.max', '10'],
      ['blkio/ocirun/c1/blkio.bfq.weight', '300'],
      ['blkio/ocirun/c1/blkio.bfq.weight_device', '8:0 200'],
      ['blkio/ocirun/c1/blkio.throttle.read_bps_device', '8:0 1024'],
      ['blkio/ocirun/c1/blkio.throttle.write_iops_device', '8:0 10'],
    ]);
    expect(errorOf(() => set(m, { blockIO: { leafWeight: 100 } }, true)).message).toMatch(
      /^linux\.resources\.blockIO\.leafWeight: no blkio\.leaf_weight in .* \(needs the CFQ I\/O scheduler\)/,
    );
  });

  it('names the controllers this host lacks, before writing anything', () => {
    const m = manager({}, ['memory', 'cpu', 'devices']);
    const e = errorOf(() =>
      set(m, { hugepageLimits: [{ pageSize: '2MB', limit: 1 }], network: { classID: 1, priorities: [{ name: 'eth0', priority: 1 }] }, pids: { limit: 5 } }),
    );
    expect(e.code).toBe('unsupported');
    expect([e.message, ...e.details]).toEqual([
      'linux.resources.pids.limit: the pids controller is not available (no cgroup v1 hierarchy has it mounted)',
      'linux.resources.hugepageLimits: the hugetlb controller is not available (no cgroup v1 hierarchy has it mounted)',
      'linux.resources.network.classID: the net_cls controller is not available (no cgroup v1 hierarchy has it mounted)',
      'linux.resources.network.priorities: the net_prio controller is not available (no cgroup v1 hierarchy has it mounted)',
    ]);
    expect(fs.writes).toEqual([]);
    expect(errorOf(() => set(m, { unified: { 'memory.high': '1' } })).message).toMatch(
      /^linux\.resources\.unified: this host manages containers with cgroup v1/,
    );
    expect(() => set(m, { unified: {} })).not.toThrow();
  });
});

describe('cgroup v1: devices', () => {
  it('denies everything, then allows the default devices (no rules in the config)', () => {
    const m = manager();
    set(m, {});
    expect(fs.writes.filter(([f]) => f.startsWith('devices/'))).toEqual([
      ['devices/ocirun/c1/devices.deny', 'a *:* rwm'],
      ['devices/ocirun/c1/devices.allow', 'c *:* m'],
      ['devices/ocirun/c1/devices.allow', 'b *:* m'],
      ['devices/ocirun/c1/devices.allow', 'c 1:3 rwm'],
      ['devices/ocirun/c1/devices.allow', 'c 1:8 rwm'],
      ['devices/ocirun/c1/devices.allow', 'c 1:7 rwm'],
      ['devices/ocirun/c1/devices.allow', 'c 5:0 rwm'],
      ['devices/ocirun/c1/devices.allow', 'c 1:5 rwm'],
      ['devices/ocirun/c1/devices.allow', 'c 1:9 rwm'],
      ['devices/ocirun/c1/devices.allow', 'c 136:* rwm'],
      ['devices/ocirun/c1/devices.allow', 'c 5:2 rwm'],
    ]);
  });

  it('writes the allowed devices in the order the rules first name them, as devices.list then shows them', () => {
    const rules = effectiveRules([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
      { allow: true, type: 'b', major: 8, minor: 20, access: 'rw' },
      { allow: true, type: 'b', major: 10, minor: 200, access: 'r' },
      { allow: true, type: 'b', major: 8, minor: 20, access: 'm' },
    ]);
    const lines = v1Writes(emulate(rules)).map(([file, line]) => `${file.replace('devices.', '')} ${line}`);
    expect(lines.slice(0, 4)).toEqual(['deny a *:* rwm', 'allow c 10:229 rwm', 'allow b 8:20 rwm', 'allow b 10:200 r']);
  });

  it("applies the config's rules in order; a deny of a default device takes that access away from it", () => {
    const rules = effectiveRules([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
      { allow: false, type: 'c', major: 1, minor: 3, access: 'r' },
      { allow: true, type: 'b', major: 8, minor: 0, access: 'r' },
      { allow: false, type: 'b', major: 8, minor: 0, access: 'r' },
    ]);
    const lines = v1Writes(emulate(rules)).map(([file, line]) => `${file.replace('devices.', '')} ${line}`);
    expect(lines).toContain('allow c 1:3 wm'); // /dev/null without read
    expect(lines).toContain('allow c 10:229 rw');
    expect(lines.some((l) => l.includes('8:0'))).toBe(false); // allowed then denied again
    expect(lines[0]).toBe('deny a *:* rwm');
  });

  it('an allow-all config becomes a deny list, and later rules take access away', () => {
    const state = emulate(
      effectiveRules([
        { allow: true, access: 'rwm' },
        { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
      ]),
    );
    expect(state.defaultAllow).toBe(true);
    expect(v1Writes(state)).toEqual([
      ['devices.allow', 'a *:* rwm'],
      ['devices.deny', 'b 8:0 w'],
    ]);
  });

  it('leaves the device rules alone on update', () => {
    const m = manager();
    set(m, { pids: { limit: 3 } }, true);
    expect(fs.writes).toEqual([['pids/ocirun/c1/pids.max', '3']]);
  });
});

describe('cgroup v1: create, freezer, processes, stats, destroy', () => {
  it('create fills a new cpuset from its parent, and refuses a cgroup with processes', () => {
    const mountPoint = fs.dir('cpuset', { 'cpuset.cpus': '0-3', 'cpuset.mems': '0' });
    fs.dir('cpuset/a', { 'cpuset.cpus': '', 'cpuset.mems': '', 'cgroup.procs': '' });
    const dir = fs.dir('cpuset/a/b', { 'cpuset.cpus': '', 'cpuset.mems': '', 'cgroup.procs': '' });
    new V1Manager([{ controllers: ['cpuset'], dir, mountPoint }]).create();
    expect(fs.writes).toEqual([
      ['cpuset/a/cpuset.cpus', '0-3'],
      ['cpuset/a/cpuset.mems', '0'],
      ['cpuset/a/b/cpuset.cpus', '0-3'],
      ['cpuset/a/b/cpuset.mems', '0'],
    ]);
    fs.set('cpuset/a/b/cgroup.procs', '77\n');
    expect(errorOf(() => new V1Manager([{ controllers: ['cpuset'], dir, mountPoint }]).create()).message).toMatch(/already has processes \(77\)/);
  });

  it('create makes missing directories and a failed create removes only those', () => {
    const mountPoint = fs.dir('pids', { 'cgroup.procs': '' });
    fs.dir('pids/keep', { 'cgroup.procs': '' });
    const m = new V1Manager([{ controllers: ['pids'], dir: path.join(mountPoint, 'keep/new/c1'), mountPoint }]);
    m.create();
    expect(existsSync(path.join(mountPoint, 'keep/new/c1'))).toBe(true);
    m.destroy({ onlyCreated: true });
    expect(existsSync(path.join(mountPoint, 'keep/new'))).toBe(false);
    expect(existsSync(path.join(mountPoint, 'keep'))).toBe(true);
  });

  it("create refuses a cgroup path that names one of the parent cgroup's files", () => {
    const mountPoint = fs.dir('pids', { 'cgroup.procs': '', tasks: '' });
    const m = new V1Manager([{ controllers: ['pids'], dir: path.join(mountPoint, 'tasks'), mountPoint }]);
    expect(errorOf(() => m.create()).message).toBe(`linux.cgroupsPath: ${mountPoint}/tasks is a file of the parent cgroup, not a cgroup`);
  });

  it('freezes and thaws through freezer.state', () => {
    const m = manager();
    m.freeze();
    expect(fs.writes).toEqual([['freezer/ocirun/c1/freezer.state', 'FROZEN']]);
    expect(m.isFrozen()).toBe(true);
    m.thaw();
    expect(fs.read('freezer/ocirun/c1/freezer.state')).toBe('THAWED');
    expect(m.isFrozen()).toBe(false);
  });

  it('places a process in every hierarchy and lists processes from one of them, sub-cgroups included', () => {
    const m = manager();
    m.apply(1234);
    expect(fs.writes.map(([f, v]) => `${f}=${v}`)).toEqual(Object.keys(KERNEL_FILES).map((h) => `${h.replace('name=', '')}/ocirun/c1/cgroup.procs=1234`));
    fs.set('pids/ocirun/c1/cgroup.procs', '5\n3\n');
    fs.dir('pids/ocirun/c1/inner', { 'cgroup.procs': '4\n' });
    expect(m.pids()).toEqual([3, 4, 5]);
  });

  it("reports stats with runc's field names, and counts OOM kills from memory.oom_control", () => {
    const m = manager({
      memory: {
        'memory.usage_in_bytes': '4096',
        'memory.max_usage_in_bytes': '8192',
        'memory.failcnt': '1',
        'memory.limit_in_bytes': '1048576',
        'memory.memsw.usage_in_bytes': '4096',
        'memory.stat': 'cache 12\nrss 34\nhierarchical_memory_limit 9223372036854771712\n',
        'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
      },
      cpuacct: { 'cpuacct.usage': '5000', 'cpuacct.usage_percpu': '3000 2000 ', 'cpuacct.stat': 'user 2\nsystem 1\n' },
      cpu: { 'cpu.stat': 'nr_periods 10\nnr_throttled 1\nthrottled_time 99\n' },
      pids: { 'pids.current': '2', 'pids.max': '10' },
      blkio: { 'blkio.throttle.io_service_bytes_recursive': '8:0 Read 100\n8:0 Write 0\nTotal 100\n' },
    });
    expect(m.oomKillCount()).toBe(3);
    const text = toJson({ type: 'stats', id: 'c1', data: m.stats() });
    expect(text).toContain('"hierarchical_memory_limit":9223372036854771712'); // exact, not rounded to a double
    const s = JSON.parse(text).data;
    expect(s.cpu).toEqual({
      usage: { total: 5000, percpu: [3000, 2000], kernel: 10000000, user: 20000000 },
      throttling: { periods: 10, throttledPeriods: 1, throttledTime: 99 },
    });
    expect(s.memory.usage).toEqual({ limit: 1048576, usage: 4096, max: 8192, failcnt: 1 });
    expect(s.memory.cache).toBe(12);
    expect(s.pids).toEqual({ current: 2, limit: 10 });
    expect(s.blkio).toEqual({
      ioServiceBytesRecursive: [
        { major: 8, op: 'Read', value: 100 },
        { major: 8, op: 'Write' },
      ],
    });
    expect(s.cpuset.cpus).toBeUndefined(); // empty in the fake: omitted, as runc omits it
  });

  it("destroy removes the container's directory in every hierarchy, sub-cgroups first", () => {
    const dirs = ['pids', 'freezer'].map((h) => {
      fs.dir(`${h}/c9/inner`);
      return { controllers: [h], dir: path.join(fs.root, h, 'c9'), mountPoint: path.join(fs.root, h) };
    });
    new V1Manager(dirs).destroy();
    for (const d of dirs) expect(existsSync(d.dir)).toBe(false);
    for (const d of dirs) expect(existsSync(d.mountPoint)).toBe(true);
  });
});

describe('update and events flags', () => {
  it('reads runc\'s flag values: sizes with units, -1, and 0 as "not given"', async () => {
    const { resourcesFromFlags } = await import('../../src/cli/update.js');
    const { parseBytes, parseDuration } = await import('../../src/cli/units.js');
    expect(
      resourcesFromFlags({
        memory: '16M',
        memorySwap: '-1',
        cpuShare: '512',
        cpuQuota: '-1',
        cpuPeriod: '0',
        pidsLimit: '20',
        blkioWeight: '0',
        cpusetCpus: '0-1',
      }),
    ).toEqual({
      memory: { limit: 16 << 20, swap: -1 },
      cpu: { shares: 512, quota: -1, cpus: '0-1' },
      pids: { limit: 20 },
    });
    expect([parseBytes('512k', 'f'), parseBytes('1.5g', 'f'), parseBytes('100', 'f'), parseBytes('2MiB', 'f')]).toEqual([524288, 1610612736, 100, 2097152]);
    expect(() => parseBytes('12 parsecs', '--memory')).toThrow('--memory: "12 parsecs" is not a size such as 512k, 16M or 1g (or -1 for no limit)');
    expect(() => resourcesFromFlags({ pidsLimit: '-5' })).toThrow('--pids-limit: "-5" is not an integer of at least -1');
    expect([parseDuration('5s', 'f'), parseDuration('250ms', 'f'), parseDuration('1m30s', 'f'), parseDuration('1.5h', 'f')]).toEqual([
      5000, 250, 90_000, 5_400_000,
    ]);
    expect(() => parseDuration('5 seconds', '--interval')).toThrow(/--interval: "5 seconds" is not a duration/);
  });
});
