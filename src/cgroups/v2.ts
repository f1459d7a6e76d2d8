// The cgroup v2 driver: one directory in the unified hierarchy
// (Documentation/admin-guide/cgroup-v2.rst). linux.resources are written in
// v2 terms, converted the way runc converts them: cpu.shares → cpu.weight,
// quota/period → cpu.max, memory.swap (memory+swap) → memory.swap.max (swap
// only), blkio weight → io.bfq.weight or io.weight, device rules → an eBPF
// program. `unified` entries are written last, as given.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { OciError, errnoOf, wrap } from '../errors.js';
import { installDeviceFilter } from './bpf.js';
import {
  awaitFrozen,
  blkioWeightToIoWeight,
  checkLimitNotBelowUsage,
  int,
  makeDirs,
  refuseBusyCgroup,
  sharesToWeight,
  swapOnlyLimit,
  writeHugepageLimits,
  writePidsLimit,
  writeRdmaLimits,
} from './common.js';
import { sleepMs } from '../sys/proc.js';
import { effectiveRules, emulate, type DeviceState } from './devices.js';
import { fileExists, procsRecursive, readKeyValues, removeCgroupDir, tryRead, writeFile } from './files.js';
import { MAX_UINT64, add, emptyStats, expandList, mul, num, omitEmpty, parseStatLines, sortKeys, type BlkioEntry, type Stats } from './stats.js';
import type { CgroupManager, CgroupPlacement, LinuxResources, SetOptions } from './types.js';
import { UNIFIED } from './types.js';

const F = 'linux.resources';

/** The controllers (and v2-only limitations) the resources need, as [field, controller] pairs. */
export function v2Needs(r: LinuxResources): [string, string][] {
  const needs: [string, string][] = [];
  const m = r.memory;
  if (m) {
    for (const k of ['limit', 'reservation', 'swap'] as const) if (m[k] !== undefined && m[k] !== 0) needs.push([`${F}.memory.${k}`, 'memory']);
    if (m.checkBeforeUpdate) needs.push([`${F}.memory.checkBeforeUpdate`, 'memory']);
  }
  const c = r.cpu;
  if (c) {
    for (const k of ['shares', 'quota', 'period', 'burst', 'idle'] as const) if (c[k] !== undefined && c[k] !== 0) needs.push([`${F}.cpu.${k}`, 'cpu']);
    if (c.idle === 0) needs.push([`${F}.cpu.idle`, 'cpu']);
    if (c.cpus) needs.push([`${F}.cpu.cpus`, 'cpuset']);
    if (c.mems) needs.push([`${F}.cpu.mems`, 'cpuset']);
  }
  if (r.pids) needs.push([`${F}.pids.limit`, 'pids']);
  const b = r.blockIO;
  if (b) {
    if (b.weight) needs.push([`${F}.blockIO.weight`, 'io']);
    if (b.weightDevice?.length) needs.push([`${F}.blockIO.weightDevice`, 'io']);
    for (const k of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      if (b[k]?.length) needs.push([`${F}.blockIO.${k}`, 'io']);
    }
  }
  if (r.hugepageLimits?.length) needs.push([`${F}.hugepageLimits`, 'hugetlb']);
  if (r.rdma && Object.keys(r.rdma).length) needs.push([`${F}.rdma`, 'rdma']);
  for (const key of Object.keys(r.unified ?? {})) {
    const controller = key.split('.')[0];
    if (controller !== 'cgroup') needs.push([`${F}.unified[${JSON.stringify(key)}]`, controller]);
  }
  return needs;
}

/** Settings cgroup v2 has no place for; -1 (no limit) and false are accepted as nothing to do. */
export function v2Unsupported(r: LinuxResources): string[] {
  const problems: string[] = [];
  const m = r.memory;
  if (m) {
    for (const k of ['kernel', 'kernelTCP'] as const) {
      if (m[k] !== undefined && m[k] !== -1 && m[k] !== 0) problems.push(`${F}.memory.${k}: kernel memory limits do not exist on cgroup v2 (use memory.limit)`);
    }
    if (m.swappiness !== undefined) problems.push(`${F}.memory.swappiness: cgroup v2 has no per-cgroup swappiness`);
    if (m.disableOOMKiller) problems.push(`${F}.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer`);
    if (m.useHierarchy === false) problems.push(`${F}.memory.useHierarchy: cgroup v2 memory accounting is always hierarchical`);
  }
  const c = r.cpu;
  if (c) {
    for (const k of ['realtimeRuntime', 'realtimePeriod'] as const) {
      if (c[k] !== undefined && c[k] !== 0) problems.push(`${F}.cpu.${k}: real-time CPU bandwidth is not available on cgroup v2`);
    }
  }
  const b = r.blockIO;
  if (b?.leafWeight) problems.push(`${F}.blockIO.leafWeight: cgroup v2 has no leaf weights`);
  b?.weightDevice?.forEach((d, i) => {
    if (d.leafWeight) problems.push(`${F}.blockIO.weightDevice[${i}].leafWeight: cgroup v2 has no leaf weights`);
  });
  if (r.network && (r.network.classID !== undefined || r.network.priorities?.length)) {
    problems.push(`${F}.network: the net_cls and net_prio controllers do not exist on cgroup v2`);
  }
  return problems;
}

export class V2Manager implements CgroupManager {
  readonly version = 2 as const;
  readonly paths: Record<string, string>;
  private made: string[] = [];
  /** Controllers create() could not enable on the way down, with why: named when a setting then needs one. */
  private readonly notEnabled = new Map<string, string>();

  /**
   * @param dir the container's cgroup directory
   * @param mountPoint the root of the unified hierarchy it is under (controllers are enabled from there down)
   */
  constructor(
    readonly dir: string,
    readonly mountPoint: string,
    /** Puts the device rules in force (tests record them instead of loading eBPF into a fake directory). */
    private readonly deviceFilter: (dir: string, state: DeviceState) => void = installDeviceFilter,
  ) {
    this.paths = { [UNIFIED]: dir };
  }

  /** The controllers usable in the container's cgroup: its own list once it exists, else what its nearest ancestor offers. */
  private availableControllers(): Set<string> {
    let d = this.dir;
    for (;;) {
      const text = tryRead(d, 'cgroup.controllers');
      if (text !== null) return new Set(text.split(/\s+/).filter(Boolean));
      if (d === this.mountPoint || d === path.dirname(d)) return new Set();
      d = path.dirname(d);
    }
  }

  check(r: LinuxResources): void {
    const problems = v2Unsupported(r);
    const available = this.availableControllers();
    for (const [field, controller] of v2Needs(r)) {
      if (available.has(controller)) continue;
      const why = this.notEnabled.get(controller);
      problems.push(
        why
          ? `${field}: the ${controller} controller could not be enabled for the container's cgroup: ${why}`
          : `${field}: the ${controller} controller is not available (cgroup.controllers: ${[...available].join(' ') || 'none'})`,
      );
    }
    if (problems.length > 0) throw new OciError('unsupported', problems[0], problems.slice(1));
  }

  create(): void {
    this.made = makeDirs(this.dir, this.mountPoint);
    if (!this.made.includes(this.dir)) {
      refuseBusyCgroup(this.dir);
      if (this.isFrozen()) throw new OciError('invalid-config', `linux.cgroupsPath: cgroup ${this.dir} is frozen`);
    }
    this.enableControllers();
  }

  /** Every controller each ancestor offers is enabled for its children, down to the container's parent. */
  private enableControllers(): void {
    const chain: string[] = [];
    for (let d = path.dirname(this.dir); ; d = path.dirname(d)) {
      chain.unshift(d);
      if (d === this.mountPoint || d === path.dirname(d)) break;
    }
    for (const d of chain) {
      const offered = (tryRead(d, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
      const enabled = new Set((tryRead(d, 'cgroup.subtree_control') ?? '').split(/\s+/).filter(Boolean));
      for (const c of offered) {
        if (enabled.has(c)) continue;
        try {
          writeFile(d, 'cgroup.subtree_control', `+${c}`, 'cgroup.subtree_control');
        } catch (err) {
          // e.g. EBUSY: d has processes of its own (cgroup v2's "no internal processes" rule); check() names it if needed
          const busy = (err as Error).message.includes('EBUSY');
          this.notEnabled.set(
            c,
            `writing +${c} to ${path.join(d, 'cgroup.subtree_control')} failed${busy ? ' (EBUSY: that cgroup has processes of its own; use an absolute linux.cgroupsPath outside it)' : `: ${(err as Error).message}`}`,
          );
        }
      }
    }
  }

  apply(pid: number): void {
    writeFile(this.dir, 'cgroup.procs', String(pid), 'linux.cgroupsPath');
  }

  placement(): CgroupPlacement {
    return { unified: this.dir, v1: [], field: 'linux.cgroupsPath' };
  }

  set(r: LinuxResources, opts: SetOptions = {}): void {
    this.check(r);
    const d = this.dir;
    const write = (file: string, value: string, field: string) => writeFile(d, file, value, field);
    const m = r.memory;
    if (m) {
      const f = `${F}.memory`;
      if (m.limit !== undefined && m.limit !== 0) {
        if (opts.update && m.checkBeforeUpdate) checkLimitNotBelowUsage(m.limit, d, 'memory.current');
        write('memory.max', m.limit === -1 ? 'max' : int(m.limit), `${f}.limit`);
      }
      this.setSwap(m, `${f}.swap`);
      if (m.reservation !== undefined && m.reservation !== 0) write('memory.low', m.reservation === -1 ? 'max' : int(m.reservation), `${f}.reservation`);
    }
    if (r.cpu) this.setCpu(r.cpu);
    const dirFor = () => d;
    writePidsLimit(r, dirFor);
    if (r.blockIO) this.setIo(r);
    writeHugepageLimits(r, dirFor, 'max');
    writeRdmaLimits(r, dirFor);
    if (!opts.update) {
      this.deviceFilter(d, emulate(effectiveRules(r.devices), `${F}.devices`, r.devices?.length ?? 0));
    }
    // One write per line, as runc does: a file such as io.max takes one device per write.
    for (const [key, value] of Object.entries(r.unified ?? {})) {
      const lines = value.split('\n').filter((l) => l.trim() !== '');
      for (const line of lines.length ? lines : [value]) writeFile(d, key, line, `${F}.unified[${JSON.stringify(key)}]`);
    }
  }

  /**
   * The kernel refuses, with EINVAL: a weight for an idle group (so idle 0 is
   * written before the weight, idle 1 after), and a cpu.max.burst above the
   * quota or a quota below the burst (so the burst goes first, and once more
   * after cpu.max when the old quota was too small for it, as runc does).
   */
  private setCpu(c: NonNullable<LinuxResources['cpu']>): void {
    const d = this.dir;
    const f = `${F}.cpu`;
    const write = (file: string, value: string, field: string) => writeFile(d, file, value, field);
    if (c.idle === 0) write('cpu.idle', '0', `${f}.idle`);
    if (c.shares) write('cpu.weight', String(sharesToWeight(c.shares)), `${f}.shares`);
    const quota = c.quota !== undefined && c.quota !== 0 ? (c.quota > 0 ? int(c.quota) : 'max') : undefined;
    let burstLater = false;
    if (c.burst !== undefined) {
      try {
        write('cpu.max.burst', int(c.burst), `${f}.burst`);
      } catch (err) {
        if (quota === undefined || errnoOf(err) !== 'EINVAL') throw err;
        burstLater = true;
      }
    }
    if (quota !== undefined || c.period !== undefined) {
      const currentQuota = (tryRead(d, 'cpu.max') ?? 'max').split(' ')[0];
      const value = c.period !== undefined ? `${quota ?? currentQuota} ${int(c.period)}` : quota!;
      write('cpu.max', value, c.period !== undefined ? `${f}.period` : `${f}.quota`);
    }
    if (burstLater) write('cpu.max.burst', int(c.burst!), `${f}.burst`);
    if (c.cpus) write('cpuset.cpus', c.cpus, `${f}.cpus`);
    if (c.mems) write('cpuset.mems', c.mems, `${f}.mems`);
    if (c.idle !== undefined && c.idle !== 0) write('cpu.idle', String(c.idle), `${f}.idle`);
  }

  /** memory.swap.max holds swap alone; the spec's swap is memory+swap (an update may give swap alone: the memory limit is then the one in force). */
  private setSwap(m: NonNullable<LinuxResources['memory']>, field: string): void {
    let memory = m.limit !== undefined && m.limit !== 0 ? m.limit : undefined;
    if (memory === undefined && m.swap !== undefined && m.swap > 0) {
      const current = tryRead(this.dir, 'memory.max');
      memory = current === null || current === 'max' ? -1 : Number(current);
    }
    const swap = swapOnlyLimit(m.swap, memory, field);
    if (swap === undefined) return;
    const value = swap === -1 ? 'max' : int(swap);
    // Without swap accounting there is no memory.swap.max: "no limit" and "no swap" have nothing to enforce (as runc).
    if (!fileExists(this.dir, 'memory.swap.max') && (value === 'max' || value === '0')) return;
    writeFile(this.dir, 'memory.swap.max', value, field);
  }

  private setIo(r: LinuxResources): void {
    const b = r.blockIO!;
    const d = this.dir;
    const f = `${F}.blockIO`;
    const bfq = fileExists(d, 'io.bfq.weight');
    if (b.weight) {
      if (bfq) writeFile(d, 'io.bfq.weight', String(b.weight), `${f}.weight`);
      else writeFile(d, 'io.weight', `default ${blkioWeightToIoWeight(b.weight)}`, `${f}.weight`);
    }
    b.weightDevice?.forEach((w, i) => {
      if (!w.weight) return;
      const field = `${f}.weightDevice[${i}].weight`;
      const device = `${w.major}:${w.minor}`;
      if (bfq) writeFile(d, 'io.bfq.weight', `${device} ${w.weight}`, field);
      else {
        // io.weight takes a device only where blk-iocost is enabled for it (io.cost.qos): say what would work.
        try {
          writeFile(d, 'io.weight', `${device} ${blkioWeightToIoWeight(w.weight)}`, field);
        } catch (err) {
          throw wrap(err, `${field}: a per-device weight needs the BFQ I/O scheduler (or blk-iocost enabled for ${device}): writing io.weight failed`, {
            errnoOnly: true,
          });
        }
      }
    });
    const throttles = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ] as const;
    for (const [key, name] of throttles) {
      b[key]?.forEach((t, i) => {
        writeFile(d, 'io.max', `${t.major}:${t.minor} ${name}=${t.rate === 0 ? 'max' : int(t.rate)}`, `${f}.${key}[${i}]`);
      });
    }
  }

  freeze(): void {
    writeFile(this.dir, 'cgroup.freeze', '1', 'pause');
    awaitFrozen(
      this.dir,
      () => this.eventsSayFrozen(1),
      () => writeFile(this.dir, 'cgroup.freeze', '0', 'pause'),
      5,
    );
  }

  thaw(): void {
    writeFile(this.dir, 'cgroup.freeze', '0', 'resume');
    const deadline = Date.now() + 5000;
    while (!this.eventsSayFrozen(0) && Date.now() < deadline) sleepMs(5);
  }

  /** cgroup.events reports "frozen 1" once every task has stopped (no such line: a kernel without cgroup.freeze). */
  private eventsSayFrozen(state: 0 | 1): boolean {
    const frozen = readKeyValues(this.dir, 'cgroup.events').frozen;
    return frozen === undefined || frozen === state;
  }

  isFrozen(): boolean {
    return tryRead(this.dir, 'cgroup.freeze') === '1';
  }

  pids(): number[] {
    return procsRecursive(this.dir);
  }

  exists(): boolean {
    return fileExists(this.dir, 'cgroup.procs');
  }

  oomKillCount(): number {
    return readKeyValues(this.dir, 'memory.events').oom_kill ?? 0;
  }

  stats(): Stats {
    const d = this.dir;
    const s = emptyStats();
    const cpu = readKeyValues(d, 'cpu.stat');
    s.cpu.usage = omitEmpty({ total: mul(cpu.usage_usec ?? 0, 1000), kernel: mul(cpu.system_usec ?? 0, 1000), user: mul(cpu.user_usec ?? 0, 1000) }, ['total']);
    s.cpu.throttling = omitEmpty({ periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTime: mul(cpu.throttled_usec ?? 0, 1000) }, [
      'periods',
      'throttledPeriods',
      'throttledTime',
    ]);
    s.cpuset.cpus = expandList(tryRead(d, 'cpuset.cpus.effective'));
    s.cpuset.mems = expandList(tryRead(d, 'cpuset.mems.effective'));
    s.cpuset = omitEmpty(s.cpuset, ['cpus', 'mems']);

    const raw = parseStatLines(tryRead(d, 'memory.stat'));
    const limitOf = (file: string) => {
      const t = tryRead(d, file);
      return t === 'max' || t === null ? MAX_UINT64 : num(t);
    };
    const usage = num(tryRead(d, 'memory.current'));
    const events = readKeyValues(d, 'memory.events');
    s.memory.usage = omitEmpty({ limit: limitOf('memory.max'), usage, max: num(tryRead(d, 'memory.peak')), failcnt: events.max ?? 0 }, ['usage', 'max']);
    // v1 reports swap as memory+swap; so does runc on v2, for the same readers.
    const swapLimit = limitOf('memory.swap.max');
    const memLimit = s.memory.usage.limit;
    s.memory.swap = omitEmpty(
      {
        limit: swapLimit === MAX_UINT64 || memLimit === MAX_UINT64 ? MAX_UINT64 : add(swapLimit, memLimit),
        usage: add(num(tryRead(d, 'memory.swap.current')), usage),
        failcnt: readKeyValues(d, 'memory.swap.events').max ?? 0,
      },
      ['usage'],
    );
    if (raw.file !== undefined) s.memory.cache = raw.file;
    s.memory.raw = sortKeys(raw);
    s.memory = omitEmpty(s.memory, ['cache']);

    const pidsCurrent = num(tryRead(d, 'pids.current'));
    const pidsMax = tryRead(d, 'pids.max');
    s.pids = omitEmpty({ current: pidsCurrent, limit: pidsMax === 'max' || pidsMax === null ? 0 : num(pidsMax) }, ['current', 'limit']);

    const bytes: BlkioEntry[] = [];
    const ios: BlkioEntry[] = [];
    for (const line of (tryRead(d, 'io.stat') ?? '').split('\n')) {
      const [dev, ...pairs] = line.trim().split(/\s+/);
      if (!dev || !dev.includes(':')) continue;
      const [major, minor] = dev.split(':').map(Number);
      const kv = Object.fromEntries(pairs.map((p) => p.split('=')));
      const entry = (op: string, v: string | undefined) => omitEmpty({ major, minor, op, value: num(v) }, ['major', 'minor', 'value']);
      bytes.push(entry('Read', kv.rbytes), entry('Write', kv.wbytes));
      ios.push(entry('Read', kv.rios), entry('Write', kv.wios));
    }
    if (bytes.length) s.blkio.ioServiceBytesRecursive = bytes;
    if (ios.length) s.blkio.ioServicedRecursive = ios;

    for (const file of listFiles(d, /^hugetlb\.(.+)\.current$/)) {
      const size = file.slice('hugetlb.'.length, -'.current'.length);
      s.hugetlb[size] = omitEmpty({ usage: num(tryRead(d, file)), failcnt: readKeyValues(d, `hugetlb.${size}.events`).max ?? 0 }, ['usage']);
    }
    return s;
  }

  destroy(opts: { onlyCreated?: boolean } = {}): void {
    const deadline = Date.now() + 5000;
    if (opts.onlyCreated) {
      for (const dir of [...this.made].reverse()) removeCgroupDir(dir, deadline);
      this.made = [];
      return;
    }
    removeCgroupDir(this.dir, deadline);
  }
}

function listFiles(dir: string, pattern: RegExp): string[] {
  try {
    return readdirSync(dir).filter((n) => pattern.test(n));
  } catch {
    return [];
  }
}
