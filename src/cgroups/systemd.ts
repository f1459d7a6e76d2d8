// The systemd cgroup driver's half that talks to systemd: with systemd as PID
// 1, a container's cgroup is a transient scope unit (systemd.scope(5)) that
// systemd knows, started with the init's pid, delegated (Delegate=yes: the
// runtime manages what is inside), and given the limits systemd has
// properties for (systemd.resource-control(5)), so that systemd neither
// undoes them nor reports the unit as empty and unlimited.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import { sharesToWeight } from './common.js';
import { SystemdBus, type Typed } from './dbus.js';
import type { LinuxResources } from './types.js';

/** systemd runs as PID 1 (sd_booted(3)) and its private socket is there (root only). */
export function systemdIsRunning(): boolean {
  return existsSync('/run/systemd/system') && existsSync('/run/systemd/private') && process.geteuid?.() === 0;
}

const UINT64_MAX = 0xffffffffffffffffn;

/** The unit properties for linux.resources, converted as runc converts them. */
export function unitProperties(r: LinuxResources): [string, Typed][] {
  const props: [string, Typed][] = [];
  const m = r.memory;
  if (m?.limit !== undefined && m.limit !== 0) props.push(['MemoryMax', ['t', m.limit === -1 ? UINT64_MAX : BigInt(m.limit)]]);
  if (m?.reservation !== undefined && m.reservation > 0) props.push(['MemoryLow', ['t', BigInt(m.reservation)]]);
  if (m?.swap !== undefined && m.swap !== 0 && m.limit !== undefined && m.limit > 0) {
    props.push(['MemorySwapMax', ['t', m.swap === -1 ? UINT64_MAX : BigInt(Math.max(0, m.swap - m.limit))]]);
  }
  if (r.pids) props.push(['TasksMax', ['t', r.pids.limit < 0 ? UINT64_MAX : BigInt(r.pids.limit)]]);
  const c = r.cpu;
  if (c?.shares) props.push(['CPUWeight', ['t', BigInt(sharesToWeight(c.shares))]]);
  if (c?.quota !== undefined && c.quota !== 0) {
    const period = c.period ?? 100_000;
    // systemd takes a quota per second, rounded up to whole 10 ms as runc does.
    const perSec = c.quota < 0 ? UINT64_MAX : BigInt(Math.ceil((c.quota * 1_000_000) / period / 10_000) * 10_000);
    props.push(['CPUQuotaPerSecUSec', ['t', perSec]]);
    if (c.period) props.push(['CPUQuotaPeriodUSec', ['t', BigInt(c.period)]]);
  }
  return props;
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
      ...unitProperties(resources),
    ];
    const [job] = bus.call('StartTransientUnit', [['s', unit], ['s', 'replace'], ['a(sv)', props], ['a(sa(sv))', []]]);
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
    bus.call('SetUnitProperties', [['s', unit], ['b', true], ['a(sv)', props]]);
  } finally {
    bus.close();
  }
}

/** Stops the unit; one that is gone already (a scope ends when its last process does) is no error. */
export function stopUnit(unit: string): void {
  const bus = SystemdBus.connect();
  try {
    bus.call('StopUnit', [['s', unit], ['s', 'replace']]);
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
