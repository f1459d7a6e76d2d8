// linux.resources as the properties of the systemd unit of a container
// (--systemd-cgroup), converted as runc converts them.
import { describe, expect, it } from 'vitest';
import { cpuMask, unitProperties } from '../../src/cgroups/systemd.js';
import { errorOf } from '../helpers/fake-cgroupfs.js';

const MAX = 0xffffffffffffffffn;
const props = (r: Parameters<typeof unitProperties>[0]) => Object.fromEntries(unitProperties(r).map(([k, [, v]]) => [k, v]));

describe('systemd unit properties', () => {
  it('memory, swap (memory+swap − memory), pids, weight, quota per second rounded up to 10 ms, and its period', () => {
    expect(
      props({ memory: { limit: 64 << 20, reservation: 16 << 20, swap: 96 << 20 }, pids: { limit: -1 }, cpu: { shares: 512, quota: 12345, period: 200000 } }),
    ).toEqual({
      MemoryMax: BigInt(64 << 20),
      MemoryLow: BigInt(16 << 20),
      MemorySwapMax: BigInt(32 << 20),
      TasksMax: MAX,
      CPUWeight: 20n,
      CPUQuotaPeriodUSec: 200000n,
      CPUQuotaPerSecUSec: 70000n,
    });
    expect(props({ memory: { limit: -1 } })).toEqual({ MemoryMax: MAX, MemorySwapMax: MAX });
    expect(props({ cpu: { period: 50000 } })).toEqual({ CPUQuotaPeriodUSec: 50000n, CPUQuotaPerSecUSec: MAX });
  });

  it('cpuset as bitmasks, blkio weight as IOWeight, idle as CPUWeight 0', () => {
    expect(props({ cpu: { cpus: '0-2,9', mems: '1', idle: 1, shares: 512 }, blockIO: { weight: 500 } })).toEqual({
      CPUWeight: 0n,
      AllowedCPUs: [0b111, 0b10],
      AllowedMemoryNodes: [0b10],
      IOWeight: 4950n,
    });
    expect([...cpuMask('', 'f')]).toEqual([]);
    expect(errorOf(() => cpuMask('3-1', 'linux.resources.cpu.cpus')).message).toBe('linux.resources.cpu.cpus: "3-1" is not a list such as 0-3,8');
  });
});
