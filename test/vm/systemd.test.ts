// --systemd-cgroup with systemd as PID 1 (run in the guest by `npm run test:vm`; skipped elsewhere).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, isRoot, makeBundle, uniqueId } from '../helpers/ocirun.js';

const cgFile = (unit: string, file: string) => readFileSync(`/sys/fs/cgroup/system.slice/${unit}/${file}`, 'utf8').trim();

const systemdIsInit = (() => {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
  } catch {
    return false;
  }
})();

const rt = new Runtime();

const PROPERTIES = [
  'ActiveState',
  'Slice',
  'Delegate',
  'MemoryMax',
  'MemorySwapMax',
  'TasksMax',
  'CPUWeight',
  'CPUQuotaPerSecUSec',
  'CPUQuotaPeriodUSec',
  'AllowedCPUs',
  'AllowedMemoryNodes',
  'IOWeight',
  'MemoryAccounting',
  'TasksAccounting',
];

/** systemctl show's view of a unit. */
function show(unit: string): Record<string, string> {
  const out = execFileSync('systemctl', ['show', unit, '-p', PROPERTIES.join(',')], { encoding: 'utf8' });
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}
afterAll(() => rt.dispose());

const SYSTEMD = { globals: ['--root', rt.root, '--systemd-cgroup'] };

/** `ocirun --systemd-cgroup run -d` of `sleep` in the scope ocitest-<id>.scope of system.slice, with `resources`. */
function runInScope(resources: Record<string, unknown>): { id: string; unit: string; stderr: string } {
  const id = uniqueId('sd');
  const b = rt.track(
    makeBundle({
      args: ['sleep', '987'],
      mutate: (c) => {
        c.linux.cgroupsPath = `system.slice:ocitest:${id}`;
        c.linux.resources = resources;
      },
    }),
  );
  const r = rt.ok(['run', '-d', '--bundle', b.dir, id], SYSTEMD);
  return { id, unit: `ocitest-${id}.scope`, stderr: r.stderr };
}

describe.skipIf(!isRoot || !systemdIsInit)('--systemd-cgroup with systemd as PID 1', () => {
  it('create starts a transient scope systemd knows, with the limits as properties; update and delete reach it', () => {
    const { id, unit, stderr } = runInScope({ memory: { limit: 64 << 20 }, pids: { limit: 40 }, cpu: { shares: 512 } });
    expect(stderr).not.toMatch(/managing .* through the cgroup filesystem instead/);
    const pid = rt.state(id).pid;
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(`0::/system.slice/${unit}\n`);
    expect(show(unit)).toMatchObject({
      ActiveState: 'active',
      Slice: 'system.slice',
      Delegate: 'yes',
      MemoryMax: String(64 << 20),
      TasksMax: '40',
      CPUWeight: '20',
    });
    expect(readFileSync(`/sys/fs/cgroup/system.slice/${unit}/memory.max`, 'utf8')).toBe(`${64 << 20}\n`);
    rt.ok(['update', '--memory', String(96 << 20), '--pids-limit', '50', id]);
    expect(show(unit)).toMatchObject({ MemoryMax: String(96 << 20), TasksMax: '50' });
    expect(readFileSync(`/sys/fs/cgroup/system.slice/${unit}/pids.max`, 'utf8')).toBe('50\n');
    rt.ok(['delete', '--force', id]);
    expect(show(unit).ActiveState).toBe('inactive');
    expect(existsSync(`/sys/fs/cgroup/system.slice/${unit}`)).toBe(false);
  });

  it('cpuset, io weight, quota with its period and swap become AllowedCPUs, AllowedMemoryNodes, IOWeight, CPUQuota*, MemorySwapMax; update changes them; a daemon-reload keeps them', () => {
    const { id, unit } = runInScope({
      memory: { limit: 64 << 20, swap: 96 << 20 },
      cpu: { shares: 512, quota: 50000, period: 200000, cpus: '0', mems: '0' },
      blockIO: { weight: 500 },
    });
    try {
      expect(show(unit)).toMatchObject({
        MemoryMax: String(64 << 20),
        MemorySwapMax: String(32 << 20),
        CPUWeight: '20',
        CPUQuotaPerSecUSec: '250ms',
        CPUQuotaPeriodUSec: '200ms',
        AllowedCPUs: '0',
        AllowedMemoryNodes: '0',
        IOWeight: '4950',
        MemoryAccounting: 'yes',
        TasksAccounting: 'yes',
      });
      expect(cgFile(unit, 'cpu.max')).toBe('50000 200000');
      expect(cgFile(unit, 'cpuset.cpus')).toBe('0');
      rt.ok(['update', '--cpuset-cpus', '1', '--blkio-weight', '1000', '--cpu-quota', '100000', '--memory-swap', String(128 << 20), id]);
      expect(show(unit)).toMatchObject({ AllowedCPUs: '1', IOWeight: '10000', CPUQuotaPerSecUSec: '500ms', MemorySwapMax: String(64 << 20) });
      expect(cgFile(unit, 'cpuset.cpus')).toBe('1');
      // systemd writes the unit's cgroup files again from its properties on a reload: the limits stay.
      execFileSync('systemctl', ['daemon-reload']);
      expect([cgFile(unit, 'cpuset.cpus'), cgFile(unit, 'cpu.max'), cgFile(unit, 'cpu.weight'), cgFile(unit, 'memory.swap.max')]).toEqual([
        '1',
        '100000 200000',
        '20',
        String(64 << 20),
      ]);
      expect(cgFile(unit, 'io.weight')).toMatch(/^default 10000$/m);
    } finally {
      rt.run(['delete', '--force', id]);
    }
    expect(show(unit).ActiveState).toBe('inactive');
  });
});
