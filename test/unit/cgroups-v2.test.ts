// The cgroup v2 driver against a fake cgroupfs: every resource key → the files
// and values written, runc's conversions, `unified`, and the errors (each names
// its field). Also the host detection and path rules shared by all drivers.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OciError } from '../../src/errors.js';
import { planCgroups } from '../../src/cgroups/index.js';
import { parseHost, type CgroupHost } from '../../src/cgroups/host.js';
import { cleanCgroupsPath, expandSlice, resolvePaths, systemdCgroupPath } from '../../src/cgroups/paths.js';
import { toJson } from '../../src/cgroups/stats.js';
import type { DeviceState } from '../../src/cgroups/devices.js';
import type { LinuxResources } from '../../src/cgroups/types.js';
import { V2Manager } from '../../src/cgroups/v2.js';
import { validateResources } from '../../src/cgroups/validate.js';
import type { Spec } from '../../src/spec/types.js';
import { FakeCgroupfs, errorOf } from '../helpers/fake-cgroupfs.js';

const ALL = 'cpuset cpu io memory hugetlb pids rdma misc';

/** The files a kernel shows in a new v2 cgroup with every controller enabled. */
function kernelFiles(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'cgroup.procs': '',
    'cgroup.controllers': ALL,
    'cgroup.subtree_control': '',
    'cgroup.freeze': '0',
    'cgroup.events': 'populated 0\nfrozen 0\n',
    'memory.max': 'max',
    'memory.low': '0',
    'memory.swap.max': 'max',
    'memory.current': '0',
    'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
    'memory.high': 'max',
    'cpu.weight': '100',
    'cpu.max': 'max 100000',
    'cpu.max.burst': '0',
    'cpu.idle': '0',
    'cpuset.cpus': '',
    'cpuset.mems': '',
    'pids.max': 'max',
    'io.weight': 'default 100',
    'io.max': '',
    'hugetlb.2MB.max': 'max',
    'hugetlb.2MB.rsvd.max': 'max',
    'rdma.max': '',
    ...extra,
  };
}

let fs: FakeCgroupfs;
let devices: DeviceState[];

beforeEach(() => {
  fs = new FakeCgroupfs();
  devices = [];
});
afterEach(() => fs.dispose());

/** A container cgroup at <root>/pod/c1 under a v2 root offering `controllers`. */
function manager(files: Record<string, string> = {}, controllers = ALL): V2Manager {
  fs.dir('.', { 'cgroup.controllers': controllers, 'cgroup.subtree_control': '' });
  fs.dir('pod', { 'cgroup.controllers': controllers, 'cgroup.subtree_control': '', 'cgroup.procs': '' });
  const dir = fs.dir('pod/c1', kernelFiles({ 'cgroup.controllers': controllers, ...files }));
  return new V2Manager(dir, fs.root, (_dir, state) => devices.push(state));
}

function set(m: V2Manager, r: LinuxResources, update = false): void {
  fs.clearWrites();
  m.set(r, { update });
}

describe('cgroup v2: memory', () => {
  it('writes limit to memory.max, reservation to memory.low, and swap minus limit to memory.swap.max', () => {
    const m = manager();
    set(m, { memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20 } });
    expect(fs.writes).toEqual([
      ['pod/c1/memory.max', String(64 << 20)],
      ['pod/c1/memory.swap.max', String(64 << 20)],
      ['pod/c1/memory.low', String(32 << 20)],
    ]);
  });

  it('writes "max" for -1, and 0 swap when swap equals the limit', () => {
    const m = manager();
    set(m, { memory: { limit: -1, swap: -1, reservation: -1 } });
    expect(fs.read('pod/c1/memory.max')).toBe('max');
    expect(fs.read('pod/c1/memory.swap.max')).toBe('max');
    expect(fs.read('pod/c1/memory.low')).toBe('max');
    set(m, { memory: { limit: 1 << 20, swap: 1 << 20 } });
    expect(fs.read('pod/c1/memory.swap.max')).toBe('0');
  });

  it('no memory limit and no swap setting is no swap limit either (as runc)', () => {
    const m = manager({ 'memory.swap.max': '0' });
    set(m, { memory: { limit: -1 } });
    expect(fs.writes).toEqual([
      ['pod/c1/memory.max', 'max'],
      ['pod/c1/memory.swap.max', 'max'],
    ]);
  });

  it('takes the current memory.max for a swap update without a limit, and refuses swap without any limit', () => {
    const m = manager({ 'memory.max': String(100 << 20) });
    set(m, { memory: { swap: 300 << 20 } }, true);
    expect(fs.read('pod/c1/memory.swap.max')).toBe(String(200 << 20));
    fs.set('pod/c1/memory.max', 'max');
    expect(errorOf(() => set(m, { memory: { swap: 300 << 20 } }, true)).message).toMatch(
      /^linux\.resources\.memory\.swap: a memory\+swap limit needs a memory limit/,
    );
    fs.set('pod/c1/memory.max', String(400 << 20));
    expect(errorOf(() => set(m, { memory: { swap: 300 << 20 } }, true)).message).toMatch(
      /^linux\.resources\.memory\.swap: 314572800 is below memory\.limit 419430400/,
    );
  });

  it('without swap accounting skips "no swap" and "no limit" but refuses a real swap limit', () => {
    const m = manager();
    fs.set('pod/c1/memory.swap.max', '');
    rmSync(`${fs.root}/pod/c1/memory.swap.max`);
    set(m, { memory: { limit: 1 << 20, swap: 1 << 20 } });
    expect(fs.writes).toEqual([['pod/c1/memory.max', String(1 << 20)]]);
    const e = errorOf(() => set(m, { memory: { limit: 1 << 20, swap: 2 << 20 } }));
    expect(e.message).toMatch(/^linux\.resources\.memory\.swap: cannot write "1048576" to .*memory\.swap\.max: ENOENT/);
  });

  it('refuses what v2 has no file for, naming the field; -1 kernel limits are nothing to do', () => {
    const m = manager();
    expect(() => set(m, { memory: { kernel: -1, kernelTCP: -1 } })).not.toThrow();
    expect(errorOf(() => set(m, { memory: { kernel: 1 << 20 } })).message).toBe(
      'linux.resources.memory.kernel: kernel memory limits do not exist on cgroup v2 (use memory.limit)',
    );
    expect(errorOf(() => set(m, { memory: { swappiness: 10 } })).message).toMatch(/^linux\.resources\.memory\.swappiness: /);
    expect(errorOf(() => set(m, { memory: { disableOOMKiller: true } })).message).toMatch(/^linux\.resources\.memory\.disableOOMKiller: /);
    expect(() => set(m, { memory: { disableOOMKiller: false, useHierarchy: true } })).not.toThrow();
  });

  it('checkBeforeUpdate refuses a limit below the current usage', () => {
    const m = manager({ 'memory.current': String(50 << 20) });
    expect(errorOf(() => set(m, { memory: { limit: 10 << 20, checkBeforeUpdate: true } }, true)).message).toMatch(
      /^linux\.resources\.memory\.limit: 10485760 is below the current usage 52428800/,
    );
    set(m, { memory: { limit: 10 << 20 } }, true);
    expect(fs.read('pod/c1/memory.max')).toBe(String(10 << 20));
  });
});

describe('cgroup v2: cpu, cpuset, pids', () => {
  it("converts shares to cpu.weight with runc's formula", () => {
    const m = manager();
    for (const [shares, weight] of [
      [2, 1],
      [1024, 39],
      [512, 20],
      [262144, 10000],
    ]) {
      set(m, { cpu: { shares } });
      expect(fs.read('pod/c1/cpu.weight'), `shares ${shares}`).toBe(String(weight));
    }
  });

  it('writes quota and period to cpu.max, keeping the part that is not given', () => {
    const m = manager();
    set(m, { cpu: { quota: 50000, period: 100000 } });
    expect(fs.writes).toEqual([['pod/c1/cpu.max', '50000 100000']]);
    set(m, { cpu: { quota: -1, period: 250000 } });
    expect(fs.read('pod/c1/cpu.max')).toBe('max 250000');
    set(m, { cpu: { quota: 20000 } });
    expect(fs.read('pod/c1/cpu.max')).toBe('20000');
    fs.set('pod/c1/cpu.max', '20000 250000');
    set(m, { cpu: { period: 500000 } }, true);
    expect(fs.read('pod/c1/cpu.max')).toBe('20000 500000');
  });

  it('writes burst, idle, cpus, mems and pids', () => {
    const m = manager();
    set(m, { cpu: { burst: 1000, idle: 1, cpus: '0-1', mems: '0' }, pids: { limit: 10 } });
    expect(fs.writes).toEqual([
      ['pod/c1/cpu.max.burst', '1000'],
      ['pod/c1/cpuset.cpus', '0-1'],
      ['pod/c1/cpuset.mems', '0'],
      ['pod/c1/cpu.idle', '1'],
      ['pod/c1/pids.max', '10'],
    ]);
    set(m, { pids: { limit: -1 } });
    expect(fs.read('pod/c1/pids.max')).toBe('max');
  });

  it('writes idle 0 before the weight and idle 1 after it (the kernel refuses a weight for an idle group)', () => {
    const m = manager();
    set(m, { cpu: { idle: 0, shares: 1024 } });
    expect(fs.writes).toEqual([
      ['pod/c1/cpu.idle', '0'],
      ['pod/c1/cpu.weight', '39'],
    ]);
    set(m, { cpu: { idle: 1, shares: 1024 } });
    expect(fs.writes).toEqual([
      ['pod/c1/cpu.weight', '39'],
      ['pod/c1/cpu.idle', '1'],
    ]);
  });

  it('refuses real-time settings, which v2 lacks', () => {
    const m = manager();
    const e = errorOf(() => set(m, { cpu: { realtimeRuntime: 1000, realtimePeriod: 10000 } }));
    expect(e.message).toBe('linux.resources.cpu.realtimeRuntime: real-time CPU bandwidth is not available on cgroup v2');
    expect(e.details).toEqual(['linux.resources.cpu.realtimePeriod: real-time CPU bandwidth is not available on cgroup v2']);
  });
});

describe('cgroup v2: io, hugetlb, rdma, network', () => {
  it('writes the weight to io.bfq.weight when BFQ is there, else a converted io.weight', () => {
    const bfq = manager({ 'io.bfq.weight': 'default 100' });
    set(bfq, { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] } });
    expect(fs.writes).toEqual([
      ['pod/c1/io.bfq.weight', '500'],
      ['pod/c1/io.bfq.weight', '8:0 300'],
    ]);
    fs.dispose();
    fs = new FakeCgroupfs();
    const plain = manager();
    set(plain, { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 16, weight: 10 }] } });
    expect(fs.writes).toEqual([
      ['pod/c1/io.weight', 'default 4950'],
      ['pod/c1/io.weight', '8:16 1'],
    ]);
  });

  it('writes each throttle as an io.max line; rate 0 removes the limit', () => {
    const m = manager();
    set(m, {
      blockIO: {
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 0 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 300 }],
      },
    });
    expect(fs.writesTo('pod/c1/io.max')).toEqual(['8:0 rbps=1048576', '8:0 wbps=max', '8:16 riops=100', '8:16 wiops=300']);
  });

  it('refuses leaf weights and network settings', () => {
    const m = manager();
    expect(errorOf(() => set(m, { blockIO: { leafWeight: 100 } })).message).toBe('linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights');
    expect(errorOf(() => set(m, { network: { classID: 1 } })).message).toBe(
      'linux.resources.network: the net_cls and net_prio controllers do not exist on cgroup v2',
    );
  });

  it('writes hugepage limits to .max and .rsvd.max, and names an unknown page size', () => {
    const m = manager();
    set(m, { hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] });
    expect(fs.writes).toEqual([
      ['pod/c1/hugetlb.2MB.max', '4194304'],
      ['pod/c1/hugetlb.2MB.rsvd.max', '4194304'],
    ]);
    expect(errorOf(() => set(m, { hugepageLimits: [{ pageSize: '1GB', limit: 0 }] })).message).toMatch(
      /^linux\.resources\.hugepageLimits\[0\]\.pageSize: this kernel has no 1GB huge pages/,
    );
  });

  it('writes rdma.max with "max" for the count not given', () => {
    const m = manager();
    set(m, { rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, rxe3: { hcaObjects: 7 } } });
    expect(fs.writesTo('pod/c1/rdma.max')).toEqual(['mlx5_1 hca_handle=3 hca_object=10000', 'rxe3 hca_handle=max hca_object=7']);
  });

  it('names the missing controller', () => {
    const m = manager({}, 'cpu memory pids');
    const e = errorOf(() => set(m, { hugepageLimits: [{ pageSize: '2MB', limit: 1 }], blockIO: { weight: 100 } }));
    expect(e.code).toBe('unsupported');
    expect([e.message, ...e.details]).toEqual([
      'linux.resources.blockIO.weight: the io controller is not available (cgroup.controllers: cpu memory pids)',
      'linux.resources.hugepageLimits: the hugetlb controller is not available (cgroup.controllers: cpu memory pids)',
    ]);
    expect(fs.writes).toEqual([]); // checked before anything was written
  });
});

describe('cgroup v2: unified and devices', () => {
  it('writes unified entries as given, one write per line, after (and over) the converted settings', () => {
    const m = manager();
    set(m, { memory: { limit: 1 << 20 }, unified: { 'memory.max': '2097152', 'memory.high': '1000000', 'io.max': '8:0 rbps=1\n8:16 wbps=2' } });
    expect(fs.writes).toEqual([
      ['pod/c1/memory.max', '1048576'],
      ['pod/c1/memory.max', '2097152'],
      ['pod/c1/memory.high', '1000000'],
      ['pod/c1/io.max', '8:0 rbps=1'],
      ['pod/c1/io.max', '8:16 wbps=2'],
    ]);
  });

  it('refuses a unified key of a controller that is not there, and a key that is not a file name', () => {
    const m = manager({}, 'cpu memory');
    expect(errorOf(() => set(m, { unified: { 'hugetlb.2MB.max': '1' } })).message).toBe(
      'linux.resources.unified["hugetlb.2MB.max"]: the hugetlb controller is not available (cgroup.controllers: cpu memory)',
    );
    expect(errorOf(() => validateResources({ unified: { '../memory.max': '1' } })).message).toMatch(
      /^linux\.resources\.unified\["\.\.\/memory\.max"\]: must be the name of a file/,
    );
  });

  it('hands the emulated device rules to the device filter on create, not on update', () => {
    const m = manager();
    set(m, {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 10, minor: 200, access: 'rw' },
      ],
    });
    expect(devices).toHaveLength(1);
    expect(devices[0].defaultAllow).toBe(false);
    expect(devices[0].exceptions.map((r) => `${r.type} ${r.major}:${r.minor} ${r.access}`)).toEqual([
      'c 10:200 rw',
      'c -1:-1 m',
      'b -1:-1 m',
      'c 1:3 rwm',
      'c 1:8 rwm',
      'c 1:7 rwm',
      'c 5:0 rwm',
      'c 1:5 rwm',
      'c 1:9 rwm',
      'c 136:-1 rwm',
      'c 5:2 rwm',
    ]);
    set(m, { pids: { limit: 5 } }, true);
    expect(devices).toHaveLength(1);
  });
});

describe('cgroup v2: create, freeze, processes, stats', () => {
  it('create enables the offered controllers in every ancestor, and refuses a busy or frozen cgroup', () => {
    fs.dir('.', { 'cgroup.controllers': 'cpu memory', 'cgroup.subtree_control': '' });
    const m = new V2Manager(`${fs.root}/a/b`, fs.root, () => {});
    // a fake mkdir makes no files: give the new directories the kernel's
    mkdirSync(`${fs.root}/a`);
    writeFileSync(`${fs.root}/a/cgroup.controllers`, 'cpu memory');
    writeFileSync(`${fs.root}/a/cgroup.subtree_control`, '');
    m.create();
    expect(fs.writes).toEqual([
      ['cgroup.subtree_control', '+cpu'],
      ['cgroup.subtree_control', '+memory'],
      ['a/cgroup.subtree_control', '+cpu'],
      ['a/cgroup.subtree_control', '+memory'],
    ]);
    m.destroy({ onlyCreated: true });
    expect(existsSync(`${fs.root}/a/b`)).toBe(false);
    expect(existsSync(`${fs.root}/a`)).toBe(true); // not made by create

    const busy = manager({ 'cgroup.procs': '4242\n' });
    expect(errorOf(() => busy.create()).message).toMatch(/^linux\.cgroupsPath: cgroup .*pod\/c1 already has processes \(4242\)/);
    fs.set('pod/c1/cgroup.procs', '');
    fs.set('pod/c1/cgroup.freeze', '1');
    expect(errorOf(() => busy.create()).message).toMatch(/is frozen$/);
  });

  it('names the write that failed when a controller could not be enabled on the way down', () => {
    fs.dir('.', { 'cgroup.controllers': 'memory' });
    mkdirSync(`${fs.root}/cgroup.subtree_control`); // writing it fails (EISDIR), as EBUSY would on a busy parent
    fs.dir('c1', { 'cgroup.procs': '', 'cgroup.controllers': '', 'cgroup.freeze': '0' });
    const m = new V2Manager(`${fs.root}/c1`, fs.root, () => {});
    m.create();
    expect(errorOf(() => m.set({ memory: { limit: 1 << 20 } })).message).toMatch(
      /^linux\.resources\.memory\.limit: the memory controller could not be enabled for the container's cgroup: writing \+memory to .*\/cgroup\.subtree_control failed: .*EISDIR/,
    );
  });

  it('freezes through cgroup.freeze and waits for cgroup.events', () => {
    const m = manager({ 'cgroup.events': 'populated 1\nfrozen 1\n' });
    m.freeze();
    expect(fs.writes).toEqual([['pod/c1/cgroup.freeze', '1']]);
    expect(m.isFrozen()).toBe(true);
    fs.set('pod/c1/cgroup.events', 'populated 1\nfrozen 0\n');
    m.thaw();
    expect(m.isFrozen()).toBe(false);
  });

  it('lists the processes of the cgroup and of the cgroups under it', () => {
    const m = manager({ 'cgroup.procs': '10\n12\n' });
    fs.dir('pod/c1/sub', { 'cgroup.procs': '11\n' });
    expect(m.pids()).toEqual([10, 11, 12]);
    m.apply(99);
    expect(fs.writes).toEqual([['pod/c1/cgroup.procs', '99']]);
  });

  it("reports stats with runc's field names and units, and the OOM kill count", () => {
    const m = manager({
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 30\n',
      'memory.current': '4096',
      'memory.peak': '8192',
      'memory.max': '1048576',
      'memory.swap.current': '100',
      'memory.swap.max': '2000',
      'memory.stat': 'file 10\nanon 20\n',
      'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n',
      'pids.current': '3',
      'pids.max': '10',
      'io.stat': '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n',
      'cpuset.cpus.effective': '0-1',
      'cpuset.mems.effective': '0',
    });
    expect(m.oomKillCount()).toBe(2);
    const s = JSON.parse(toJson(m.stats()));
    expect(s.cpu).toEqual({ usage: { total: 1500000, kernel: 500000, user: 1000000 }, throttling: { periods: 4, throttledPeriods: 2, throttledTime: 30000 } });
    expect(s.memory.usage).toEqual({ limit: 1048576, usage: 4096, max: 8192, failcnt: 3 });
    expect(s.memory.swap).toEqual({ limit: 1048576 + 2000, usage: 4196, failcnt: 0 });
    expect(s.memory.cache).toBe(10);
    expect(s.memory.raw).toEqual({ anon: 20, file: 10 });
    expect(s.pids).toEqual({ current: 3, limit: 10 });
    expect(s.cpuset.cpus).toEqual([0, 1]);
    expect(s.blkio.ioServiceBytesRecursive).toEqual([
      { major: 8, op: 'Read', value: 100 },
      { major: 8, op: 'Write', value: 200 },
    ]);
    expect(Object.keys(s)).toEqual(['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
    fs.set('pod/c1/memory.max', 'max');
    expect(toJson(m.stats())).toContain('"usage":{"limit":18446744073709551615,');
  });
});

describe('validation (host-independent)', () => {
  it('names every bad value at once', () => {
    const e = errorOf(() =>
      validateResources({
        memory: { limit: -5, swap: 10, swappiness: 101 },
        cpu: { period: 0, quota: 10, shares: 1, cpus: '3-1' },
        pids: { limit: -2 },
        devices: [{ allow: true, type: 'x' }, { allow: false, access: '' }, { allow: 'yes' }],
        blockIO: { weightDevice: [{ major: -1, minor: 0 }] },
      }),
    );
    expect(e.code).toBe('invalid-config');
    expect([e.message, ...e.details]).toEqual([
      'linux.resources.devices[0].type: "x" is not a (all), b (block) or c (char)',
      'linux.resources.devices[1].access: "" must be a non-empty combination of r, w and m',
      'linux.resources.devices[2].allow: must be true or false',
      'linux.resources.memory.limit: -5 is out of range (bytes, or -1 for no limit)',
      'linux.resources.memory.swappiness: 101 is out of range (0 to 100)',
      'linux.resources.cpu.shares: 1 is out of range (2 to 262144)',
      'linux.resources.cpu.quota: 10 is out of range (microseconds, at least 1000, or -1 for no limit)',
      'linux.resources.cpu.period: 0 is out of range (microseconds, 1000 to 1000000)',
      'linux.resources.cpu.cpus: "3-1" has a descending range 3-1',
      'linux.resources.pids.limit: -2 is out of range (a number of tasks, or -1 for no limit)',
      'linux.resources.blockIO.weightDevice[0].major: -1 is out of range (a device number)',
      'linux.resources.blockIO.weightDevice[0]: needs weight or leafWeight',
    ]);
  });

  it('checks swap against the limit and burst against the quota', () => {
    expect(errorOf(() => validateResources({ memory: { limit: 100, swap: 50 } })).message).toMatch(
      /^linux\.resources\.memory\.swap: 50 is below memory\.limit 100/,
    );
    expect(errorOf(() => validateResources({ cpu: { quota: 10000, burst: 20000 } })).message).toBe(
      'linux.resources.cpu.burst: 20000 is larger than quota 10000',
    );
    expect(() => validateResources({ memory: { limit: 0, swap: 0 }, cpu: { quota: 0, shares: 0 }, pids: { limit: 0 } })).not.toThrow();
  });
});

describe('host layout and cgroup paths', () => {
  const V1_LINES = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  ];
  const UNIFIED_LINE = '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw';
  const PROC_V1 = '4:memory:/user/session\n2:cpu,cpuacct:/\n1:name=systemd:/init.scope\n0::/init.scope\n';

  it('tells pure v1, hybrid and pure v2 apart', () => {
    expect(parseHost(V1_LINES.join('\n'), PROC_V1).mode).toBe('v1');
    const hybrid = parseHost([...V1_LINES, UNIFIED_LINE].join('\n'), PROC_V1);
    expect(hybrid.mode).toBe('hybrid');
    expect(hybrid.hierarchies.map((h) => h.controllers.join(',') || 'unified')).toEqual(['cpu,cpuacct', 'memory', 'name=systemd', 'unified']);
    const v2 = parseHost('30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n', '0::/user.slice/x.scope\n');
    expect(v2).toEqual({
      mode: 'v2',
      hierarchies: [{ controllers: [], version: 2, mountPoint: '/sys/fs/cgroup', mountRoot: '/', ownCgroup: '/user.slice/x.scope' }],
    });
    expect(() => parseHost('1 0 0:1 / / rw - ext4 /dev/vda rw\n', '')).toThrow(/no cgroup filesystem is mounted/);
  });

  it("takes absolute paths from each hierarchy's root and relative ones (and the id) from the runtime's own cgroup", () => {
    const host = parseHost([...V1_LINES, UNIFIED_LINE].join('\n'), PROC_V1);
    expect(resolvePaths(host, '/ocirun/c1')).toEqual({
      cpu: '/sys/fs/cgroup/cpu,cpuacct/ocirun/c1',
      cpuacct: '/sys/fs/cgroup/cpu,cpuacct/ocirun/c1',
      memory: '/sys/fs/cgroup/memory/ocirun/c1',
      'name=systemd': '/sys/fs/cgroup/systemd/ocirun/c1',
      '': '/sys/fs/cgroup/unified/ocirun/c1',
    });
    expect(resolvePaths(host, cleanCgroupsPath(undefined, 'c1'))).toMatchObject({
      cpu: '/sys/fs/cgroup/cpu,cpuacct/c1',
      memory: '/sys/fs/cgroup/memory/user/session/c1',
      '': '/sys/fs/cgroup/unified/init.scope/c1',
    });
  });

  it("maps a cgroup through a mount of a sub-tree (a cgroup namespace's view)", () => {
    const host = parseHost('50 40 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', '0::/kubepods/pod1\n');
    expect(resolvePaths(host, 'c1')).toEqual({ '': '/sys/fs/cgroup/c1' });
    expect(() => resolvePaths(host, '/elsewhere/c1')).toThrow(/outside the part of the cgroup2 hierarchy mounted at \/sys\/fs\/cgroup/);
  });

  it('refuses cgroupsPath values that leave their parent or name the root', () => {
    expect(cleanCgroupsPath('a/b/', 'x')).toBe('a/b');
    expect(cleanCgroupsPath('/a//b', 'x')).toBe('/a/b');
    expect(() => cleanCgroupsPath('a/../../etc', 'x')).toThrow(/^linux\.cgroupsPath: "a\/\.\.\/\.\.\/etc" contains "\.\."/);
    expect(() => cleanCgroupsPath('/', 'x')).toThrow(/names the root cgroup/);
  });

  it('converts systemd "slice:prefix:name" paths as runc does', () => {
    expect(systemdCgroupPath('system.slice:docker:abc', 'x')).toBe('/system.slice/docker-abc.scope');
    expect(systemdCgroupPath('machine-pod_1.slice:crio:c1', 'x')).toBe('/machine.slice/machine-pod_1.slice/crio-c1.scope');
    expect(systemdCgroupPath(':runc:c1', 'x')).toBe('/system.slice/runc-c1.scope');
    expect(systemdCgroupPath('-.slice::c1', 'x')).toBe('/c1.scope');
    expect(systemdCgroupPath('system.slice:x:sub.slice', 'x')).toBe('/system.slice/sub.slice');
    expect(systemdCgroupPath(undefined, 'c9')).toBe('/system.slice/runc-c9.scope');
    expect(expandSlice('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
    expect(() => systemdCgroupPath('/my/path', 'x')).toThrow(/with --systemd-cgroup the path has the form "slice:prefix:name"/);
    expect(() => expandSlice('a--b.slice')).toThrow(/not a valid systemd slice name/);
  });

  it('plans a v2 container end to end without touching the filesystem', () => {
    fs.dir('.', { 'cgroup.controllers': 'memory pids' });
    const host: CgroupHost = { mode: 'v2', hierarchies: [{ controllers: [], version: 2, mountPoint: fs.root, mountRoot: '/', ownCgroup: '/' }] };
    const config = { linux: { cgroupsPath: '/ocirun/c1', resources: { memory: { limit: 1 << 20 } } } } as unknown as Spec;
    const { manager: m } = planCgroups(config, 'c1', { host });
    expect(m.paths).toEqual({ '': `${fs.root}/ocirun/c1` });
    expect(existsSync(`${fs.root}/ocirun`)).toBe(false);
    const bad = { linux: { resources: { cpu: { cpus: '0' } } } } as unknown as Spec;
    expect(() => planCgroups(bad, 'c1', { host })).toThrow(/^linux\.resources\.cpu\.cpus: the cpuset controller is not available/);
    const hole = {
      linux: {
        resources: {
          devices: [
            { allow: true, type: 'c', major: 1, access: 'rwm' },
            { allow: false, type: 'c', major: 1, minor: 3, access: 'r' },
          ],
        },
      },
    } as unknown as Spec;
    expect(() => planCgroups(hole, 'c1', { host })).toThrow(/^linux\.resources\.devices\[1\]: cannot deny c 1:3 r inside the broader rule allow c 1:\* rwm/);
  });
});
