// The systemd cgroup driver's half that talks to systemd: with systemd as PID
// 1, a container's cgroup is a transient scope unit (systemd.scope(5)) that
// systemd knows, started with the init's pid, delegated (Delegate=yes: the
// runtime manages what is inside), and given the limits systemd has
// properties for (systemd.resource-control(5)), so that systemd neither
// undoes them nor reports the unit as empty and unlimited.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import { blkioWeightToIoWeight, sharesToWeight, swapOnlyLimit } from './common.js';
import { SystemdBus, type Typed } from './dbus.js';
import type { LinuxResources } from './types.js';

/** systemd runs as PID 1 (sd_booted(3)) and its private socket is there (root only). */
export function systemdIsRunning(): boolean {
  return existsSync('/run/systemd/system') && existsSync('/run/systemd/private') && process.geteuid?.() === 0;
}

const UINT64_MAX = 0xffffffffffffffffn;

/**
 * The unit properties for linux.resources, converted as runc converts them
 * (runc's docs/systemd.md), and IOWeight besides: systemd writes every
 * property it manages when it realizes the unit again (daemon-reload), so a
 * limit it has no value for would go back to its default.
 */
export function unitProperties(r: LinuxResources): [string, Typed][] {
  const props: [string, Typed][] = [];
  const limit = (n: number) => (n === -1 ? UINT64_MAX : BigInt(n));
  const m = r.memory;
  if (m?.limit !== undefined && m.limit !== 0) props.push(['MemoryMax', ['t', limit(m.limit)]]);
  if (m?.reservation !== undefined && m.reservation !== 0) props.push(['MemoryLow', ['t', limit(m.reservation)]]);
  if (m?.limit !== undefined && m.limit !== 0) {
    const swap = swapOnlyLimit(m.swap, m.limit, 'linux.resources.memory.swap');
    if (swap !== undefined) props.push(['MemorySwapMax', ['t', limit(swap)]]);
  }
  if (r.pids) props.push(['TasksMax', ['t', r.pids.limit < 0 ? UINT64_MAX : BigInt(r.pids.limit)]]);
  const c = r.cpu;
  // CPUWeight=idle (systemd 252) is weight 0 on the bus.
  if (c?.idle) props.push(['CPUWeight', ['t', 0n]]);
  else if (c?.shares) props.push(['CPUWeight', ['t', BigInt(sharesToWeight(c.shares))]]);
  if (c?.period) props.push(['CPUQuotaPeriodUSec', ['t', BigInt(c.period)]]);
  if ((c?.quota !== undefined && c.quota !== 0) || c?.period) {
    const quota = c.quota ?? 0;
    // systemd keeps a quota per second in whole percents of a CPU: rounded up to 10 ms, as runc does.
    const perSec = quota > 0 ? BigInt(Math.ceil((quota * 1_000_000) / (c.period || 100_000) / 10_000) * 10_000) : UINT64_MAX;
    props.push(['CPUQuotaPerSecUSec', ['t', perSec]]);
  }
  if (c?.cpus) props.push(['AllowedCPUs', ['ay', [...cpuMask(c.cpus, 'linux.resources.cpu.cpus')]]]);
  if (c?.mems) props.push(['AllowedMemoryNodes', ['ay', [...cpuMask(c.mems, 'linux.resources.cpu.mems')]]]);
  if (r.blockIO?.weight) props.push(['IOWeight', ['t', BigInt(blkioWeightToIoWeight(r.blockIO.weight))]]);
  return props;
}

/** A cpuset list ("0-3,8") as systemd's bitmask: bit n of byte n/8 for CPU (or node) n. */
export function cpuMask(list: string, field: string): Uint8Array {
  const bits: number[] = [];
  for (const part of list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const from = m ? Number(m[1]) : NaN;
    const to = m?.[2] !== undefined ? Number(m[2]) : from;
    if (!m || to < from || to > 8191) throw new OciError('invalid-config', `${field}: ${JSON.stringify(list)} is not a list such as 0-3,8`);
    for (let n = from; n <= to; n++) bits.push(n);
  }
  const mask = new Uint8Array(bits.length ? Math.floor(Math.max(...bits) / 8) + 1 : 0);
  for (const n of bits) mask[n >> 3] |= 1 << (n & 7);
  return mask;
}

/**
 * Starts the transient scope `unit` in `slice` holding `pid` and waits for
 * systemd's job to finish (the JobRemoved signal).
 */
export function startScope(unit: string, slice: string, pid: number, resources: LinuxResources): void {
  const bus = SystemdBus.connect();
  try {
    bus.call('Subscribe', []);
    const props: [string, Typed][] = [
      ['Description', ['s', `ocirun container ${unit}`]],
      ['Slice', ['s', slice]],
      ['PIDs', ['au', [pid]]],
      ['Delegate', ['b', true]],
      ['DefaultDependencies', ['b', false]],
      // Accounting for every controller, whatever the limits (as runc): the statistics need it.
      ['CPUAccounting', ['b', true]],
      ['IOAccounting', ['b', true]],
      ['MemoryAccounting', ['b', true]],
      ['TasksAccounting', ['b', true]],
      ...unitProperties(resources),
    ];
    const [job] = bus.call('StartTransientUnit', [
      ['s', unit],
      ['s', 'replace'],
      ['a(sv)', props],
      ['a(sa(sv))', []],
    ]);
    const [, , , result] = bus.waitSignal('JobRemoved', (body) => body[1] === job, 30_000);
    if (result !== 'done') throw new OciError('system', `--systemd-cgroup: systemd could not start ${unit}: job ${String(result)}`);
  } finally {
    bus.close();
  }
}

/** Sets the unit's resource properties (an update of a running container). */
export function setUnitResources(unit: string, resources: LinuxResources): void {
  const props = unitProperties(resources);
  if (props.length === 0) return;
  const bus = SystemdBus.connect();
  try {
    bus.call('SetUnitProperties', [
      ['s', unit],
      ['b', true],
      ['a(sv)', props],
    ]);
  } finally {
    bus.close();
  }
}

/** Stops the unit; one that is gone already (a scope ends when its last process does) is no error. */
export function stopUnit(unit: string): void {
  const bus = SystemdBus.connect();
  try {
    bus.call('StopUnit', [
      ['s', unit],
      ['s', 'replace'],
    ]);
  } catch (err) {
    if (!(err instanceof OciError && /NoSuchUnit|not loaded/.test(err.message))) throw err;
  } finally {
    bus.close();
  }
}

/** The unit of a container's cgroup directory, for a cgroup --systemd-cgroup placed (its last component). */
export function unitOfCgroup(dir: string): string | null {
  const unit = path.basename(dir);
  return unit.endsWith('.scope') ? unit : null;
}

/** delete of a container --systemd-cgroup placed under systemd: its scope is stopped (runc does the same). */
export function stopContainerUnit(paths: Record<string, string> | undefined): void {
  const dir = paths?.[''];
  const unit = dir !== undefined && Object.keys(paths!).length === 1 ? unitOfCgroup(dir) : null;
  if (unit !== null && systemdIsRunning()) stopUnit(unit);
}
