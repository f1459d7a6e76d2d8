// The order in which the init becomes the container's user with the
// container's capabilities (capabilities(7)), recorded by the kernel double.
import { describe, expect, it } from 'vitest';
import { lastCap, toMasks } from '../../src/linux/capabilities.js';
import { applyCredentials, type CredentialFacts } from '../../src/linux/credentials.js';
import { applyRlimits } from '../../src/linux/rlimits.js';
import { PR } from '../../src/sys/libc.js';
import type { Process } from '../../src/spec/types.js';
import { KernelDouble } from '../helpers/kernel-double.js';

const CAP_CHOWN = 0;
const CAP_KILL = 5;
const CAP_NET_BIND_SERVICE = 10;
const all = (1n << BigInt(lastCap() + 1)) - 1n;

function processSpec(more: Partial<Process> = {}): Process {
  return { cwd: '/', args: ['sh'], user: { uid: 1000, gid: 100, additionalGids: [10, 20] }, ...more } as Process;
}

function facts(capabilities: Process['capabilities'], more: Partial<CredentialFacts> = {}): CredentialFacts {
  return { caps: capabilities ? toMasks(capabilities) : null, available: all, setgroupsAllowed: true, ...more };
}

/** The calls in a compact form: prctl by option name, the others by name. */
function steps(kernel: KernelDouble): string[] {
  const prctlName = Object.fromEntries(Object.entries(PR).map(([k, v]) => [v, k]));
  return kernel.calls.map(({ call, args }) => {
    if (call !== 'prctl') return call === 'capset' ? 'capset' : `${call}(${(args as unknown[]).map(String).join(',')})`;
    const [option, a2, a3] = args as number[];
    if (option === PR.CAPBSET_DROP) return 'CAPBSET_DROP';
    if (option === PR.CAP_AMBIENT) return a2 === PR.CAP_AMBIENT_RAISE ? `AMBIENT_RAISE(${a3})` : 'AMBIENT_CLEAR_ALL';
    return `${prctlName[option]}(${a2})`;
  });
}

/** Consecutive runs of the same step folded into one. */
const folded = (list: string[]) => list.filter((s, i) => s !== list[i - 1]);

describe('applyCredentials', () => {
  const caps = {
    bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    effective: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    inheritable: ['CAP_NET_BIND_SERVICE'],
    ambient: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
  };

  it('drops the bounding set as root, keeps capabilities across the switch of user, then sets the others', () => {
    const kernel = new KernelDouble();
    applyCredentials(kernel, processSpec({ capabilities: caps, noNewPrivileges: true }), facts(caps));
    expect(folded(steps(kernel))).toEqual([
      'CAPBSET_DROP',
      'SET_KEEPCAPS(1)',
      'setgroups(10,20)',
      'setresgid(100)',
      'setresuid(1000)',
      'SET_KEEPCAPS(0)',
      'capset',
      'AMBIENT_CLEAR_ALL',
      `AMBIENT_RAISE(${CAP_NET_BIND_SERVICE})`,
      'SET_NO_NEW_PRIVS(1)',
    ]);
  });

  it('drops every capability outside the bounding set, and no other', () => {
    const kernel = new KernelDouble();
    applyCredentials(kernel, processSpec({ capabilities: caps }), facts(caps));
    const dropped = kernel
      .only('prctl')
      .filter((c) => c.args[0] === PR.CAPBSET_DROP)
      .map((c) => c.args[1]);
    const kept = [CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE];
    expect(dropped).toEqual(Array.from({ length: lastCap() + 1 }, (_, cap) => cap).filter((cap) => !kept.includes(cap)));
  });

  it('gives capset the three sets, and raises as ambient only what is permitted and inheritable', () => {
    const kernel = new KernelDouble();
    applyCredentials(kernel, processSpec({ capabilities: caps }), facts(caps));
    expect(kernel.only('capset')[0].args[0]).toEqual({
      effective: (1n << 5n) | (1n << 10n),
      permitted: (1n << 5n) | (1n << 10n),
      inheritable: 1n << 10n,
    });
    expect(steps(kernel).filter((s) => s.startsWith('AMBIENT_RAISE'))).toEqual([`AMBIENT_RAISE(${CAP_NET_BIND_SERVICE})`]);
  });

  it('without process.capabilities switches the user and changes no capability', () => {
    const kernel = new KernelDouble();
    applyCredentials(kernel, processSpec({ user: { uid: 0, gid: 0 } }), facts(undefined));
    expect(steps(kernel)).toEqual(['SET_KEEPCAPS(1)', 'setgroups()', 'setresgid(0)', 'setresuid(0)', 'SET_KEEPCAPS(0)']);
  });

  it('where setgroups is denied, refuses additionalGids before it changes the user', () => {
    const kernel = new KernelDouble();
    const run = () => applyCredentials(kernel, processSpec({ capabilities: caps }), facts(caps, { setgroupsAllowed: false }));
    expect(run).toThrow(/additionalGids: setgroups is denied/);
    expect(kernel.only('setresgid', 'setresuid', 'capset')).toEqual([]);
  });

  it('where setgroups is denied and no groups are asked for, switches without calling it', () => {
    const kernel = new KernelDouble();
    applyCredentials(kernel, processSpec({ user: { uid: 5, gid: 5 } }), facts(undefined, { setgroupsAllowed: false }));
    expect(steps(kernel)).toEqual(['SET_KEEPCAPS(1)', 'setresgid(5)', 'setresuid(5)', 'SET_KEEPCAPS(0)']);
  });

  it('names the capabilities the runtime cannot grant instead of letting capset fail', () => {
    const kernel = new KernelDouble();
    const available = all & ~(1n << BigInt(CAP_NET_BIND_SERVICE));
    expect(() => applyCredentials(kernel, processSpec({ capabilities: caps }), facts(caps, { available }))).toThrow(
      /cannot grant CAP_NET_BIND_SERVICE: the host does not give it to ocirun/,
    );
    expect(kernel.only('capset')).toEqual([]);
  });

  it('says which step failed when capset does', () => {
    const kernel = new KernelDouble().fail('capset', 'EPERM');
    expect(() => applyCredentials(kernel, processSpec({ capabilities: caps }), facts(caps))).toThrow(/setting capabilities: capset: EPERM/);
  });
});

describe('applyRlimits', () => {
  it('sets each limit on the calling process, unlimited as 2^64-1', () => {
    const kernel = new KernelDouble();
    applyRlimits(kernel, [
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
      { type: 'RLIMIT_CORE', soft: 18446744073709551615, hard: 18446744073709551615 },
    ]);
    expect(kernel.calls).toEqual([
      { call: 'prlimit', args: [0, 7, 1024n, 4096n, 'RLIMIT_NOFILE'] },
      { call: 'prlimit', args: [0, 4, 0xffffffffffffffffn, 0xffffffffffffffffn, 'RLIMIT_CORE'] },
    ]);
  });

  it("explains EPERM as a hard limit above the runtime's", () => {
    const kernel = new KernelDouble().fail('prlimit', 'EPERM');
    expect(() => applyRlimits(kernel, [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 << 30 }])).toThrow(
      /RLIMIT_NOFILE: raising the hard limit to 1073741824 needs CAP_SYS_RESOURCE/,
    );
  });
});
