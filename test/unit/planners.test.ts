// The pure decisions behind the mounts, `update`, `create --share` and
// `kill`: what they make of their input, and the one-line refusals of bad input.
import { describe, expect, it } from 'vitest';
import { mountAttributes, parseMountOptions, propagationFlag } from '../../src/linux/mount-options.js';
import { mergeResources } from '../../src/lifecycle/resources.js';
import { parseShare } from '../../src/lifecycle/share.js';
import { parseSignal } from '../../src/signals.js';
import { resourcesFromFlags } from '../../src/cli/update.js';
import { parseInteger } from '../../src/cli/units.js';
import { MOUNT_ATTR, MS } from '../../src/sys/libc.js';

describe('parseMountOptions', () => {
  it('turns flag words into MS_* flags, the later word winning', () => {
    const parsed = parseMountOptions(['ro', 'nosuid', 'nodev', 'noexec', 'rw', 'ro']);
    expect(parsed.flags).toBe(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
    expect(parsed.cleared).toBe(0);
    const cleared = parseMountOptions(['ro', 'rw', 'suid', 'dev']);
    expect(cleared.flags).toBe(0);
    expect(cleared.cleared).toBe(MS.RDONLY | MS.NOSUID | MS.NODEV);
  });

  it('knows a bind by its type or by bind/rbind, rbind with its submounts', () => {
    expect(parseMountOptions([], 'bind')).toMatchObject({ isBind: true, flags: MS.BIND });
    expect(parseMountOptions(['rbind'], 'none')).toMatchObject({ isBind: true, flags: MS.BIND | MS.REC });
    expect(parseMountOptions(['bind', 'ro'])).toMatchObject({ isBind: true, flags: MS.BIND | MS.RDONLY });
    expect(parseMountOptions(['ro'], 'tmpfs').isBind).toBe(false);
  });

  it('keeps propagation words apart, in their order, and leaves them out of the flags', () => {
    const parsed = parseMountOptions(['rbind', 'rprivate', 'slave', 'runbindable']);
    expect(parsed.propagation).toEqual([MS.PRIVATE | MS.REC, MS.SLAVE, MS.UNBINDABLE | MS.REC]);
    expect(parsed.flags).toBe(MS.BIND | MS.REC);
  });

  it('passes words it does not know to the filesystem as data, and keeps tmpcopyup for itself', () => {
    const parsed = parseMountOptions(['nosuid', 'size=64k', 'mode=1777', 'tmpcopyup', 'uid=5'], 'tmpfs');
    expect(parsed.data).toEqual(['size=64k', 'mode=1777', 'uid=5']);
    expect([...parsed.runtime]).toEqual(['tmpcopyup']);
  });

  it('collects the r* options as attributes for every mount of a tree, an atime word replacing the last', () => {
    const parsed = parseMountOptions(['rbind', 'rro', 'rnosuid', 'rdev', 'rnoatime', 'rstrictatime']);
    expect(parsed.recursive).toEqual({
      set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.STRICTATIME,
      clear: MOUNT_ATTR.NODEV | MOUNT_ATTR.ATIME_MASK,
    });
    expect(parseMountOptions(['rro', 'rrw']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY });
  });

  it('takes rnorelatime and rnostrictatime back to the default atime mode, relatime', () => {
    const relatime = { set: MOUNT_ATTR.RELATIME, clear: MOUNT_ATTR.ATIME_MASK };
    expect(parseMountOptions(['rbind', 'rnoatime', 'rnorelatime']).recursive).toEqual(relatime);
    expect(parseMountOptions(['rbind', 'rstrictatime', 'rnostrictatime']).recursive).toEqual(relatime);
  });
});

describe('mountAttributes', () => {
  it('sets what the options set and clears only what they name', () => {
    expect(mountAttributes(parseMountOptions(['bind', 'ro', 'nosuid']))).toEqual({ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, clear: 0 });
    expect(mountAttributes(parseMountOptions(['bind', 'rw', 'exec']))).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOEXEC });
    expect(mountAttributes(parseMountOptions(['bind']))).toEqual({ set: 0, clear: 0 });
  });

  it('changes the atime mode only when an atime word is given', () => {
    expect(mountAttributes(parseMountOptions(['noatime']))).toEqual({ set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR.ATIME_MASK });
    expect(mountAttributes(parseMountOptions(['strictatime']))).toEqual({ set: MOUNT_ATTR.STRICTATIME, clear: MOUNT_ATTR.ATIME_MASK });
    expect(mountAttributes(parseMountOptions(['atime']))).toEqual({ set: MOUNT_ATTR.RELATIME, clear: MOUNT_ATTR.ATIME_MASK });
    expect(mountAttributes(parseMountOptions(['nodiratime'])).clear & MOUNT_ATTR.ATIME_MASK).toBe(0);
  });
});

describe('propagationFlag', () => {
  it("names linux.rootfsPropagation's values, and nothing for an unknown one", () => {
    expect(['shared', 'rslave', 'private', 'unbindable'].map(propagationFlag)).toEqual([MS.SHARED, MS.SLAVE | MS.REC, MS.PRIVATE, MS.UNBINDABLE]);
    expect(propagationFlag(undefined)).toBeUndefined();
    expect(propagationFlag('sideways')).toBeUndefined();
  });
});

describe('mergeResources', () => {
  it('merges objects at every depth, and replaces lists and values', () => {
    const base = { memory: { limit: 100, swap: 200 }, cpu: { shares: 2, cpus: '0' }, devices: [{ allow: false, access: 'rwm' }] };
    const update = { memory: { limit: 300 }, cpu: { cpus: '0-1' }, devices: [{ allow: true }], pids: { limit: 5 } };
    expect(mergeResources(base, update)).toEqual({
      memory: { limit: 300, swap: 200 },
      cpu: { shares: 2, cpus: '0-1' },
      devices: [{ allow: true }],
      pids: { limit: 5 },
    });
    expect(base.memory.limit).toBe(100); // the base is not changed
  });

  it('keeps what an undefined value would have erased, and takes an explicit null', () => {
    expect(mergeResources({ cpu: { quota: 5 } }, { cpu: { quota: undefined } })).toEqual({ cpu: { quota: 5 } });
    expect(mergeResources({ cpu: { quota: 5 } }, { cpu: null })).toEqual({ cpu: null });
  });

  it('takes the update whole where either side is not an object', () => {
    expect(mergeResources(undefined, { pids: { limit: 1 } })).toEqual({ pids: { limit: 1 } });
    expect(mergeResources({ a: 1 }, [1])).toEqual([1]);
  });
});

describe('parseShare', () => {
  it("reads TYPES=CONTAINER with runc's and the spec's names, each type once", () => {
    expect(parseShare('net,ipc,uts=infra')).toEqual({ id: 'infra', types: ['network', 'ipc', 'uts'] });
    expect(parseShare('mnt,mount,network,net=pod-1.a_b')).toEqual({ id: 'pod-1.a_b', types: ['mount', 'network'] });
  });

  it('refuses a value without TYPES=CONTAINER, and names an unknown type', () => {
    expect(() => parseShare('infra')).toThrow('--share "infra": expected TYPES=CONTAINER, e.g. net,ipc,uts=infra');
    expect(() => parseShare('net=')).toThrow(/expected TYPES=CONTAINER/);
    expect(() => parseShare('net=../x y')).toThrow(/expected TYPES=CONTAINER/);
    expect(() => parseShare('net,disk=infra')).toThrow(/--share net,disk=infra: unknown namespace type "disk"/);
  });
});

describe('parseSignal', () => {
  it('takes names with or without SIG in any case, and numbers', () => {
    expect(['KILL', 'SIGTERM', 'hup', 'SigUsr1', '9', '64'].map(parseSignal)).toEqual([9, 15, 1, 10, 9, 64]);
  });

  it('takes the real-time signals relative to RTMIN and RTMAX', () => {
    expect(['RTMIN', 'SIGRTMIN+3', 'RTMAX', 'RTMAX-2'].map(parseSignal)).toEqual([34, 37, 64, 62]);
  });

  it('refuses 0, numbers past 64, real-time signals out of range and unknown names', () => {
    for (const bad of ['0', '65', 'RTMIN-1', 'RTMAX+1', 'SIGNOPE', '', '-9', '9x']) {
      expect(() => parseSignal(bad), bad).toThrow(`invalid signal ${JSON.stringify(bad)}: use a name such as KILL or SIGTERM, or a number from 1 to 64`);
    }
  });
});

describe('resourcesFromFlags', () => {
  // What the cgroups-v1 suite's "update and events flags" test does not cover.
  it('puts each flag in its section, and leaves out sections no flag names', () => {
    expect(
      resourcesFromFlags({
        memoryReservation: '1m',
        kernelMemory: '2m',
        kernelMemoryTcp: '3m',
        cpuShares: '1024',
        cpuPeriod: '100000',
        cpuRtPeriod: '1000000',
        cpuRtRuntime: '-1',
        cpusetMems: '0',
        cpuIdle: '1',
        blkioWeight: '500',
      }),
    ).toEqual({
      memory: { reservation: 1 << 20, kernel: 2 << 20, kernelTCP: 3 << 20 },
      cpu: { shares: 1024, period: 100000, realtimePeriod: 1000000, realtimeRuntime: -1, mems: '0', idle: 1 },
      blockIO: { weight: 500 },
    });
    expect(resourcesFromFlags({})).toEqual({});
  });

  it('prefers --cpu-share to --cpu-shares, and keeps --cpu-idle 0, which means something', () => {
    expect(resourcesFromFlags({ cpuShare: '2', cpuShares: '3' })).toEqual({ cpu: { shares: 2 } });
    expect(resourcesFromFlags({ cpuIdle: '0' })).toEqual({ cpu: { idle: 0 } });
  });

  it('refuses values that are not integers, naming the flag', () => {
    expect(() => resourcesFromFlags({ cpuQuota: '1.5' })).toThrow('--cpu-quota: "1.5" is not an integer');
    expect(() => resourcesFromFlags({ cpuPeriod: '-1' })).toThrow('--cpu-period: "-1" is not an integer of at least 0');
    expect(() => resourcesFromFlags({ cpuIdle: 'yes' })).toThrow('--cpu-idle: "yes" is not an integer');
    expect(() => parseInteger('99999999999999999999', '--pids-limit')).toThrow(/--pids-limit: .* is not an integer/);
  });
});
