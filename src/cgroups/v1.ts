// The cgroup v1 driver: one directory per hierarchy, each hierarchy holding
// one or more controllers (Documentation/admin-guide/cgroup-v1/). On a hybrid
// host the named "systemd" hierarchy and the unified one get the container
// too (placement only, no settings), as runc does.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import { warn } from '../log.js';
import { awaitFrozen, checkLimitNotBelowUsage, int, makeDirs, refuseBusyCgroup, writeHugepageLimits, writePidsLimit, writeRdmaLimits } from './common.js';
import { sleepMs } from '../sys/proc.js';
import { effectiveRules, emulate, v1Writes } from './devices.js';
import { fileExists, procsRecursive, readKeyValues, removeCgroupDirs, tryRead, writeFile } from './files.js';
import { emptyStats, expandList, mul, num, omitEmpty, parseStatLines, sortKeys, type BlkioEntry, type Stats } from './stats.js';
import type { CgroupManager, CgroupPlacement, LinuxResources, SetOptions } from './types.js';
import { UNIFIED } from './types.js';

const F = 'linux.resources';

export interface V1Dir {
  /** The hierarchy's controllers ("name=systemd" for a named one, "" for the unified hierarchy beside v1). */
  controllers: string[];
  /** The container's directory in it. */
  dir: string;
  /** Where the hierarchy is mounted (directories are made from there down). */
  mountPoint: string;
}

/** [field, controller] for every setting in the resources that takes effect. */
export function v1Needs(r: LinuxResources): [string, string][] {
  const needs: [string, string][] = [];
  const m = r.memory;
  if (m) {
    for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP'] as const)
      if (m[k] !== undefined && m[k] !== 0) needs.push([`${F}.memory.${k}`, 'memory']);
    for (const k of ['swappiness', 'useHierarchy'] as const) if (m[k] !== undefined) needs.push([`${F}.memory.${k}`, 'memory']);
    if (m.disableOOMKiller) needs.push([`${F}.memory.disableOOMKiller`, 'memory']);
  }
  const c = r.cpu;
  if (c) {
    for (const k of ['shares', 'quota', 'period', 'burst', 'realtimeRuntime', 'realtimePeriod'] as const) {
      if (c[k] !== undefined && c[k] !== 0) needs.push([`${F}.cpu.${k}`, 'cpu']);
    }
    if (c.idle !== undefined) needs.push([`${F}.cpu.idle`, 'cpu']);
    if (c.cpus) needs.push([`${F}.cpu.cpus`, 'cpuset']);
    if (c.mems) needs.push([`${F}.cpu.mems`, 'cpuset']);
  }
  if (r.pids) needs.push([`${F}.pids.limit`, 'pids']);
  const b = r.blockIO;
  if (b) {
    for (const k of ['weight', 'leafWeight'] as const) if (b[k]) needs.push([`${F}.blockIO.${k}`, 'blkio']);
    for (const k of ['weightDevice', 'throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      if (b[k]?.length) needs.push([`${F}.blockIO.${k}`, 'blkio']);
    }
  }
  if (r.hugepageLimits?.length) needs.push([`${F}.hugepageLimits`, 'hugetlb']);
  if (r.network?.classID !== undefined) needs.push([`${F}.network.classID`, 'net_cls']);
  if (r.network?.priorities?.length) needs.push([`${F}.network.priorities`, 'net_prio']);
  if (r.rdma && Object.keys(r.rdma).length) needs.push([`${F}.rdma`, 'rdma']);
  if (r.devices?.length) needs.push([`${F}.devices`, 'devices']);
  return needs;
}

/** A limit as a number for comparisons, -1 and absent being no limit. */
const asLimit = (v: number | undefined | null) => (v === undefined || v === null || v === -1 ? Infinity : v);

/** A v1 limit file as a number; its "unlimited" (2^63 rounded down to a page) is Infinity. */
function limitIn(dir: string, file: string): number {
  const text = tryRead(dir, file);
  const n = text === null ? NaN : Number(text);
  return !Number.isFinite(n) || n < 0 || n >= 2 ** 62 ? Infinity : n;
}

export class V1Manager implements CgroupManager {
  readonly version = 1 as const;
  readonly paths: Record<string, string> = {};
  private made: string[] = [];
  private readonly dirs: V1Dir[];

  constructor(dirs: V1Dir[]) {
    this.dirs = dirs;
    for (const d of dirs) for (const c of d.controllers) this.paths[c] = d.dir;
  }

  private uniqueDirs(): V1Dir[] {
    const seen = new Set<string>();
    return this.dirs.filter((d) => (seen.has(d.dir) ? false : (seen.add(d.dir), true)));
  }

  private dirOf(controller: string): string | undefined {
    return this.paths[controller];
  }

  private need(controller: string, field: string): string {
    const d = this.dirOf(controller);
    if (!d) throw new OciError('unsupported', `${field}: the ${controller} controller is not available (no cgroup v1 hierarchy has it mounted)`);
    return d;
  }

  check(r: LinuxResources): void {
    const problems: string[] = [];
    for (const [field, controller] of v1Needs(r)) {
      if (!this.dirOf(controller)) problems.push(`${field}: the ${controller} controller is not available (no cgroup v1 hierarchy has it mounted)`);
    }
    if (r.unified && Object.keys(r.unified).length > 0) {
      problems.push(`${F}.unified: this host manages containers with cgroup v1; unified (cgroup v2) settings cannot be applied`);
    }
    if (problems.length > 0) throw new OciError('unsupported', problems[0], problems.slice(1));
  }

  create(): void {
    for (const d of this.uniqueDirs()) {
      const made = makeDirs(d.dir, d.mountPoint);
      this.made.push(...made);
      if (!made.includes(d.dir)) refuseBusyCgroup(d.dir);
    }
    const freezer = this.dirOf('freezer');
    if (freezer && !this.made.includes(freezer) && this.isFrozen()) {
      throw new OciError('invalid-config', `linux.cgroupsPath: cgroup ${freezer} is frozen`);
    }
    const cpuset = this.dirs.find((d) => d.controllers.includes('cpuset'));
    if (cpuset) this.fillCpuset(cpuset);
  }

  /** A new cpuset cgroup starts with no CPUs and no memory nodes, and no task can join it until it has some: take the parent's. */
  private fillCpuset(d: V1Dir): void {
    const chain: string[] = [];
    for (let dir = d.dir; dir !== d.mountPoint && dir !== path.dirname(dir); dir = path.dirname(dir)) chain.unshift(dir);
    for (const dir of chain) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if ((tryRead(dir, file) ?? '') !== '') continue;
        const parent = tryRead(path.dirname(dir), file) ?? '';
        if (parent !== '') writeFile(dir, file, parent, `${F}.cpu (copying ${file} from the parent cgroup)`);
      }
    }
  }

  apply(pid: number): void {
    for (const d of this.uniqueDirs()) writeFile(d.dir, 'cgroup.procs', String(pid), `linux.cgroupsPath (${d.controllers.join(',') || 'unified'})`);
  }

  placement(): CgroupPlacement {
    const dirs = this.uniqueDirs();
    const memory = this.dirOf('memory');
    return {
      unified: dirs.find((d) => d.controllers.includes(UNIFIED))?.dir,
      v1: dirs.filter((d) => !d.controllers.includes(UNIFIED) && d.dir !== memory).map((d) => d.dir),
      memory,
      field: 'linux.cgroupsPath',
    };
  }

  set(r: LinuxResources, opts: SetOptions = {}): void {
    this.check(r);
    if (r.memory) this.setMemory(r, opts);
    if (r.cpu) this.setCpu(r);
    const dirFor = (controller: string, field: string) => this.need(controller, field);
    writePidsLimit(r, dirFor);
    if (r.blockIO) this.setBlkio(r);
    writeHugepageLimits(r, dirFor, 'limit_in_bytes');
    if (r.network?.classID !== undefined) {
      writeFile(this.need('net_cls', `${F}.network.classID`), 'net_cls.classid', String(r.network.classID), `${F}.network.classID`);
    }
    r.network?.priorities?.forEach((p, i) => {
      const field = `${F}.network.priorities[${i}]`;
      writeFile(this.need('net_prio', field), 'net_prio.ifpriomap', `${p.name} ${p.priority}`, field);
    });
    writeRdmaLimits(r, dirFor);
    const devices = this.dirOf('devices');
    if (!opts.update && devices) {
      for (const [file, line] of v1Writes(emulate(effectiveRules(r.devices), `${F}.devices`, r.devices?.length ?? 0))) {
        writeFile(devices, file, line, `${F}.devices (${file} ${line})`);
      }
    }
  }

  private setMemory(r: LinuxResources, opts: SetOptions): void {
    const m = r.memory!;
    const f = `${F}.memory`;
    const limit = m.limit !== undefined && m.limit !== 0 ? m.limit : undefined;
    let swap = m.swap !== undefined && m.swap !== 0 ? m.swap : undefined;
    const oomControl = m.disableOOMKiller !== undefined && (m.disableOOMKiller || opts.update);
    const needed =
      limit !== undefined ||
      swap !== undefined ||
      m.reservation ||
      m.kernel ||
      m.kernelTCP ||
      m.swappiness !== undefined ||
      oomControl ||
      m.useHierarchy !== undefined;
    if (!needed) return;
    const d = this.need('memory', f);
    if (opts.update && m.checkBeforeUpdate && limit !== undefined) checkLimitNotBelowUsage(limit, d, 'memory.usage_in_bytes');
    const memsw = fileExists(d, 'memory.memsw.limit_in_bytes');
    if (swap !== undefined && !memsw) {
      // Without swap accounting there is nothing to write; "no limit" needs nothing.
      if (swap !== -1) {
        throw new OciError('unsupported', `${f}.swap: this kernel does not account swap per cgroup (no memory.memsw.limit_in_bytes; boot with swapaccount=1)`);
      }
      swap = undefined;
    }
    // An unlimited memory limit above a finite memory+swap limit is refused by the kernel.
    if (limit === -1 && swap === undefined && memsw) swap = -1;
    const writeLimit = () => writeFile(d, 'memory.limit_in_bytes', int(limit!), `${f}.limit`);
    const writeSwap = () => writeFile(d, 'memory.memsw.limit_in_bytes', int(swap!), `${f}.swap`);
    // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes: order the two writes so it never does.
    if (limit !== undefined && swap !== undefined) {
      const currentSwap = limitIn(d, 'memory.memsw.limit_in_bytes');
      if (asLimit(limit) <= currentSwap) {
        writeLimit();
        writeSwap();
      } else {
        writeSwap();
        writeLimit();
      }
    } else if (limit !== undefined) {
      const currentSwap = memsw ? limitIn(d, 'memory.memsw.limit_in_bytes') : Infinity;
      if (asLimit(limit) > currentSwap) {
        throw new OciError('invalid-config', `${f}.limit: ${limit} is above the memory+swap limit ${currentSwap}: set memory.swap as well`);
      }
      writeLimit();
    } else if (swap !== undefined) writeSwap();
    if (m.reservation) writeFile(d, 'memory.soft_limit_in_bytes', int(m.reservation), `${f}.reservation`);
    for (const [key, file] of [
      ['kernel', 'memory.kmem.limit_in_bytes'],
      ['kernelTCP', 'memory.kmem.tcp.limit_in_bytes'],
    ] as const) {
      const v = m[key];
      if (v === undefined || v === 0) continue;
      if (!fileExists(d, file)) {
        if (v === -1) continue;
        throw new OciError('unsupported', `${f}.${key}: this kernel has no kernel memory limits (no ${file})`);
      }
      writeFile(d, file, int(v), `${f}.${key}`);
      const back = tryRead(d, file);
      if (v > 0 && back !== null && back !== int(v) && Number(back) > v) {
        warn(`${f}.${key}: the kernel accepted ${v} but does not enforce kernel memory limits any more (${file} reads ${back})`);
      }
    }
    if (m.swappiness !== undefined) writeFile(d, 'memory.swappiness', String(m.swappiness), `${f}.swappiness`);
    if (oomControl) {
      writeFile(d, 'memory.oom_control', m.disableOOMKiller ? '1' : '0', `${f}.disableOOMKiller`);
    }
    if (m.useHierarchy !== undefined && tryRead(d, 'memory.use_hierarchy') !== (m.useHierarchy ? '1' : '0')) {
      writeFile(d, 'memory.use_hierarchy', m.useHierarchy ? '1' : '0', `${f}.useHierarchy`);
    }
  }

  private setCpu(r: LinuxResources): void {
    const c = r.cpu!;
    const f = `${F}.cpu`;
    const cpuDir = () => this.need('cpu', f);
    if (c.shares) {
      const d = cpuDir();
      writeFile(d, 'cpu.shares', String(c.shares), `${f}.shares`);
      const back = tryRead(d, 'cpu.shares');
      if (back !== null && back !== String(c.shares)) {
        throw new OciError('invalid-config', `${f}.shares: the kernel turned ${c.shares} into ${back} (its range is 2 to 262144)`);
      }
    }
    const quota = c.quota !== undefined && c.quota !== 0 ? c.quota : undefined;
    if (quota !== undefined || c.period !== undefined || c.burst !== undefined) {
      const d = cpuDir();
      const burstFirst = c.burst !== undefined && c.burst <= Number(tryRead(d, 'cpu.cfs_burst_us') ?? 0);
      if (burstFirst) writeFile(d, 'cpu.cfs_burst_us', int(c.burst!), `${f}.burst`);
      if (c.period !== undefined) writeFile(d, 'cpu.cfs_period_us', int(c.period), `${f}.period`);
      if (quota !== undefined) writeFile(d, 'cpu.cfs_quota_us', quota > 0 ? int(quota) : '-1', `${f}.quota`);
      if (c.burst !== undefined && !burstFirst) writeFile(d, 'cpu.cfs_burst_us', int(c.burst), `${f}.burst`);
    }
    const rtRuntime = c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0 ? c.realtimeRuntime : undefined;
    if (rtRuntime !== undefined || c.realtimePeriod !== undefined) {
      const d = cpuDir();
      if (!fileExists(d, 'cpu.rt_runtime_us')) {
        throw new OciError('unsupported', `${f}.realtimeRuntime: this kernel has no real-time group scheduling (no cpu.rt_runtime_us; CONFIG_RT_GROUP_SCHED)`);
      }
      const writeRuntime = () => writeFile(d, 'cpu.rt_runtime_us', int(rtRuntime!), `${f}.realtimeRuntime`);
      const writePeriod = () => writeFile(d, 'cpu.rt_period_us', int(c.realtimePeriod!), `${f}.realtimePeriod`);
      if (rtRuntime !== undefined && c.realtimePeriod !== undefined) {
        // The runtime may never exceed the period: pick the order that keeps it so.
        const currentRuntime = Number(tryRead(d, 'cpu.rt_runtime_us') ?? 0);
        if (currentRuntime <= c.realtimePeriod) {
          writePeriod();
          writeRuntime();
        } else {
          writeRuntime();
          writePeriod();
        }
      } else if (rtRuntime !== undefined) writeRuntime();
      else writePeriod();
    }
    if (c.idle !== undefined) writeFile(cpuDir(), 'cpu.idle', String(c.idle), `${f}.idle`);
    if (c.cpus) writeFile(this.need('cpuset', `${f}.cpus`), 'cpuset.cpus', c.cpus, `${f}.cpus`);
    if (c.mems) writeFile(this.need('cpuset', `${f}.mems`), 'cpuset.mems', c.mems, `${f}.mems`);
  }

  private setBlkio(r: LinuxResources): void {
    const b = r.blockIO!;
    const f = `${F}.blockIO`;
    const active =
      b.weight ||
      b.leafWeight ||
      b.weightDevice?.length ||
      b.throttleReadBpsDevice?.length ||
      b.throttleWriteBpsDevice?.length ||
      b.throttleReadIOPSDevice?.length ||
      b.throttleWriteIOPSDevice?.length;
    if (!active) return;
    const d = this.need('blkio', f);
    // CFQ's files, or BFQ's (the only proportional scheduler of blk-mq kernels).
    const pick = (cfq: string, bfq: string | null, field: string): string => {
      if (fileExists(d, cfq)) return cfq;
      if (bfq && fileExists(d, bfq)) return bfq;
      throw new OciError('unsupported', `${field}: no ${cfq}${bfq ? ` or ${bfq}` : ''} in ${d} (needs the CFQ${bfq ? ' or BFQ' : ''} I/O scheduler)`);
    };
    if (b.weight) writeFile(d, pick('blkio.weight', 'blkio.bfq.weight', `${f}.weight`), String(b.weight), `${f}.weight`);
    if (b.leafWeight) writeFile(d, pick('blkio.leaf_weight', null, `${f}.leafWeight`), String(b.leafWeight), `${f}.leafWeight`);
    b.weightDevice?.forEach((w, i) => {
      const field = `${f}.weightDevice[${i}]`;
      if (w.weight)
        writeFile(d, pick('blkio.weight_device', 'blkio.bfq.weight_device', `${field}.weight`), `${w.major}:${w.minor} ${w.weight}`, `${field}.weight`);
      if (w.leafWeight)
        writeFile(d, pick('blkio.leaf_weight_device', null, `${field}.leafWeight`), `${w.major}:${w.minor} ${w.leafWeight}`, `${field}.leafWeight`);
    });
    const throttles = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ] as const;
    for (const [key, file] of throttles) {
      b[key]?.forEach((t, i) => writeFile(d, file, `${t.major}:${t.minor} ${int(t.rate)}`, `${f}.${key}[${i}]`));
    }
  }

  freeze(): void {
    const d = this.need('freezer', 'pause');
    const frozen = (attempt: number) => {
      // FREEZING can stick while a task is in an uninterruptible sleep: write again now and then.
      if (attempt % 50 === 0) writeFile(d, 'freezer.state', 'FROZEN', 'pause');
      return tryRead(d, 'freezer.state') === 'FROZEN';
    };
    awaitFrozen(d, frozen, () => writeFile(d, 'freezer.state', 'THAWED', 'pause'), 2);
  }

  thaw(): void {
    const d = this.need('freezer', 'resume');
    writeFile(d, 'freezer.state', 'THAWED', 'resume');
    const deadline = Date.now() + 5000;
    while (tryRead(d, 'freezer.state') !== 'THAWED' && Date.now() < deadline) sleepMs(2);
  }

  isFrozen(): boolean {
    const d = this.dirOf('freezer');
    if (!d) return false;
    const state = tryRead(d, 'freezer.state');
    return state === 'FROZEN' || state === 'FREEZING';
  }

  pids(): number[] {
    for (const c of ['pids', 'freezer', 'memory', 'cpu', 'devices', 'name=systemd']) {
      const d = this.dirOf(c);
      if (d && fileExists(d, 'cgroup.procs')) return procsRecursive(d);
    }
    const any = this.uniqueDirs().find((d) => fileExists(d.dir, 'cgroup.procs'));
    return any ? procsRecursive(any.dir) : [];
  }

  exists(): boolean {
    return this.uniqueDirs().some((d) => fileExists(d.dir, 'cgroup.procs'));
  }

  oomKillCount(): number {
    const d = this.dirOf('memory');
    return d ? (readKeyValues(d, 'memory.oom_control').oom_kill ?? 0) : 0;
  }

  stats(): Stats {
    const s = emptyStats();
    const acct = this.dirOf('cpuacct');
    if (acct) {
      const list = (file: string) => (tryRead(acct, file) ?? '').split(/\s+/).filter(Boolean).map(num);
      const ticks = readKeyValues(acct, 'cpuacct.stat');
      const perTick = 1e9 / 100; // USER_HZ is 100 on every Linux ABI
      s.cpu.usage = omitEmpty(
        {
          total: num(tryRead(acct, 'cpuacct.usage')),
          percpu: list('cpuacct.usage_percpu'),
          percpu_kernel: list('cpuacct.usage_percpu_sys'),
          percpu_user: list('cpuacct.usage_percpu_user'),
          kernel: mul(ticks.system ?? 0, perTick),
          user: mul(ticks.user ?? 0, perTick),
        },
        ['total', 'percpu', 'percpu_kernel', 'percpu_user'],
      );
    }
    const cpu = this.dirOf('cpu');
    if (cpu) {
      const st = readKeyValues(cpu, 'cpu.stat');
      s.cpu.throttling = omitEmpty({ periods: st.nr_periods ?? 0, throttledPeriods: st.nr_throttled ?? 0, throttledTime: st.throttled_time ?? 0 }, [
        'periods',
        'throttledPeriods',
        'throttledTime',
      ]);
    }
    const cpuset = this.dirOf('cpuset');
    if (cpuset) {
      const n = (file: string) => num(tryRead(cpuset, `cpuset.${file}`));
      s.cpuset = omitEmpty(
        {
          cpus: expandList(tryRead(cpuset, 'cpuset.cpus')),
          cpu_exclusive: n('cpu_exclusive'),
          mems: expandList(tryRead(cpuset, 'cpuset.mems')),
          mem_hardwall: n('mem_hardwall'),
          mem_exclusive: n('mem_exclusive'),
          memory_migrate: n('memory_migrate'),
          memory_spread_page: n('memory_spread_page'),
          memory_spread_slab: n('memory_spread_slab'),
          memory_pressure: n('memory_pressure'),
          sched_load_balance: n('sched_load_balance'),
          sched_relax_domain_level: n('sched_relax_domain_level'),
        },
        ['cpus', 'mems'],
      );
    }
    const memory = this.dirOf('memory');
    if (memory) {
      const entry = (prefix: string) =>
        omitEmpty(
          {
            limit: num(tryRead(memory, `${prefix}.limit_in_bytes`)),
            usage: num(tryRead(memory, `${prefix}.usage_in_bytes`)),
            max: num(tryRead(memory, `${prefix}.max_usage_in_bytes`)),
            failcnt: num(tryRead(memory, `${prefix}.failcnt`)),
          },
          ['usage', 'max'],
        );
      const raw = parseStatLines(tryRead(memory, 'memory.stat'));
      s.memory = omitEmpty(
        {
          cache: raw.cache ?? 0,
          usage: entry('memory'),
          swap: entry('memory.memsw'),
          kernel: entry('memory.kmem'),
          kernelTCP: entry('memory.kmem.tcp'),
          raw: sortKeys(raw),
        },
        ['cache'],
      );
    }
    const pids = this.dirOf('pids');
    if (pids) {
      const max = tryRead(pids, 'pids.max');
      s.pids = omitEmpty({ current: num(tryRead(pids, 'pids.current')), limit: max === 'max' ? 0 : num(max) }, ['current', 'limit']);
    }
    const blkio = this.dirOf('blkio');
    if (blkio) {
      const source = fileExists(blkio, 'blkio.io_serviced_recursive')
        ? 'blkio.io_'
        : fileExists(blkio, 'blkio.bfq.io_serviced_recursive')
          ? 'blkio.bfq.io_'
          : 'blkio.throttle.io_';
      const entries = (file: string): BlkioEntry[] => {
        const out: BlkioEntry[] = [];
        for (const line of (tryRead(blkio, file) ?? '').split('\n')) {
          const [dev, op, value] = line.trim().split(/\s+/);
          if (!dev || !dev.includes(':') || value === undefined) continue;
          const [major, minor] = dev.split(':').map(Number);
          out.push(omitEmpty({ major, minor, op, value: num(value) }, ['major', 'minor', 'value']));
        }
        return out;
      };
      const bytes = entries(`${source}service_bytes_recursive`);
      const ios = entries(`${source}serviced_recursive`);
      if (bytes.length) s.blkio.ioServiceBytesRecursive = bytes;
      if (ios.length) s.blkio.ioServicedRecursive = ios;
    }
    const hugetlb = this.dirOf('hugetlb');
    if (hugetlb) {
      for (const file of readdirSafe(hugetlb)) {
        const m = /^hugetlb\.(.+)\.usage_in_bytes$/.exec(file);
        if (!m || m[1].includes('rsvd')) continue;
        s.hugetlb[m[1]] = omitEmpty(
          {
            usage: num(tryRead(hugetlb, file)),
            max: num(tryRead(hugetlb, `hugetlb.${m[1]}.max_usage_in_bytes`)),
            failcnt: num(tryRead(hugetlb, `hugetlb.${m[1]}.failcnt`)),
          },
          ['usage', 'max'],
        );
      }
    }
    return s;
  }

  destroy(opts: { onlyCreated?: boolean } = {}): void {
    const targets = opts.onlyCreated ? [...this.made].reverse() : this.uniqueDirs().map((d) => d.dir);
    if (opts.onlyCreated) this.made = [];
    removeCgroupDirs(targets);
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
