// Which namespaces a container creates, when, and in which order it joins
// others: planNamespaces alone, and openJoins + joinNamespaces against real
// namespace files, with setns recorded by the kernel double.
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeJoins, joinNamespaces, openJoins, planNamespaces, type NamespacePlan } from '../../src/linux/namespaces.js';
import { CLONE } from '../../src/sys/libc.js';
import type { Namespace } from '../../src/spec/types.js';
import { KernelDouble } from '../helpers/kernel-double.js';

const ALL_OWN: Namespace[] = ['pid', 'network', 'ipc', 'uts', 'mount', 'user', 'cgroup', 'time'].map((type) => ({ type }) as Namespace);
const asRoot = process.geteuid?.() === 0;

describe('planNamespaces', () => {
  it('creates every namespace but cgroup and time at clone time when there is nothing to join', () => {
    const plan = planNamespaces(ALL_OWN);
    expect(plan.cloneFlags).toBe(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWUSER);
    expect(plan).toMatchObject({ unshareFlags: 0, joins: [], newUser: true, inUser: true, newCgroup: true, newTime: true, forkAgain: false });
  });

  it('unshares after joining, and forks again for a pid namespace of its own', () => {
    const plan = planNamespaces([{ type: 'network', path: '/proc/1/ns/net' }, { type: 'pid' }, { type: 'mount' }]);
    expect(plan).toMatchObject({ cloneFlags: 0, unshareFlags: CLONE.NEWPID | CLONE.NEWNS, forkAgain: true, inUser: false, newUser: false });
    expect(plan.joins).toEqual([{ type: 'network', path: '/proc/1/ns/net', fd: -1 }]);
  });

  it('forks again to land in a joined pid namespace, and not when it neither joins nor owns one', () => {
    expect(planNamespaces([{ type: 'pid', path: '/proc/1/ns/pid' }]).forkAgain).toBe(true);
    expect(planNamespaces([{ type: 'ipc', path: '/proc/1/ns/ipc' }, { type: 'mount' }]).forkAgain).toBe(false);
  });

  it('is in a user namespace when it joins one, and creates one only when it owns it', () => {
    const plan = planNamespaces([{ type: 'user', path: '/proc/1/ns/user' }]);
    expect(plan).toMatchObject({ inUser: true, newUser: false, unprivilegedMaps: false });
  });

  it('has an unprivileged runtime write the maps of a user namespace it creates', () => {
    expect(planNamespaces([{ type: 'user' }]).unprivilegedMaps).toBe(!asRoot);
  });

  it("puts joins in the kernel's order before their namespaces are opened: mount last", () => {
    const types = planNamespaces(
      ['mount', 'user', 'time', 'cgroup', 'pid', 'network', 'uts', 'ipc'].map((type) => ({ type, path: `/x/${type}` }) as Namespace),
    ).joins.map((j) => j.type);
    expect(types).toEqual(['ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'user', 'mount']);
  });

  it('writes linux.timeOffsets as one line per clock', () => {
    const plan = planNamespaces([{ type: 'time' }], {
      linux: { timeOffsets: { monotonic: { secs: 5, nanosecs: 7 }, boottime: { secs: -3 } } },
    } as never);
    expect(plan.timeOffsets).toBe('monotonic 5 7\nboottime -3 0\n');
    expect(planNamespaces([{ type: 'time' }]).timeOffsets).toBe('');
  });
});

describe('joining namespaces', () => {
  // A process with a user namespace of its own, and ipc, uts and network namespaces owned by it.
  let holder: ChildProcess;
  let pid: number;

  beforeAll(async () => {
    holder = spawn('unshare', ['--user', '--map-root-user', '--ipc', '--uts', '--net', 'sleep', '600'], { stdio: 'ignore' });
    pid = holder.pid!;
    const own = readlinkSync('/proc/self/ns/user');
    for (;;) {
      let theirs = own;
      try {
        theirs = readlinkSync(`/proc/${pid}/ns/user`);
      } catch {
        // not started yet
      }
      if (theirs !== own && readlinkSync(`/proc/${pid}/exe`).endsWith('sleep')) break;
      if (holder.exitCode !== null) throw new Error(`unshare exited with ${holder.exitCode}: this host refuses user namespaces`);
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  afterAll(() => {
    holder?.kill('SIGKILL');
  });

  function joined(namespaces: Namespace[]): { kernel: KernelDouble; plan: NamespacePlan } {
    const plan = planNamespaces(namespaces);
    openJoins(plan);
    const kernel = new KernelDouble();
    try {
      joinNamespaces(kernel, plan);
    } finally {
      closeJoins(plan);
    }
    return { kernel, plan };
  }

  const setnsOrder = (kernel: KernelDouble) => kernel.only('setns').map((c) => [c.args[1], c.args[2]]);

  it('joins a user namespace before the namespaces it owns, and after those it does not', () => {
    const { kernel } = joined([
      { type: 'network', path: `/proc/${pid}/ns/net` },
      { type: 'mount', path: '/proc/self/ns/mnt' },
      { type: 'user', path: `/proc/${pid}/ns/user` },
      { type: 'uts', path: `/proc/${pid}/ns/uts` },
      { type: 'ipc', path: '/proc/self/ns/ipc' },
    ]);
    expect(setnsOrder(kernel)).toEqual([
      // owned by this process's user namespace: only joinable with the privilege it has before the user join
      [CLONE.NEWIPC, '/proc/self/ns/ipc'],
      [CLONE.NEWNS, '/proc/self/ns/mnt'],
      [CLONE.NEWUSER, `/proc/${pid}/ns/user`],
      // owned by the joined user namespace: joinable with the capabilities it gives
      [CLONE.NEWUTS, `/proc/${pid}/ns/uts`],
      [CLONE.NEWNET, `/proc/${pid}/ns/net`],
    ]);
  });

  it('joins each namespace through the fd it opened and checked, with the type it has', () => {
    const { kernel } = joined([{ type: 'network', path: `/proc/${pid}/ns/net` }]);
    expect(kernel.calls).toEqual([{ call: 'setns', args: [readlinkSync(`/proc/${pid}/ns/net`), CLONE.NEWNET, `/proc/${pid}/ns/net`] }]);
  });

  it('leaves out the user namespace it is already in, which setns would refuse', () => {
    const { kernel, plan } = joined([
      { type: 'user', path: '/proc/self/ns/user' },
      { type: 'uts', path: '/proc/self/ns/uts' },
    ]);
    expect(plan.joins.map((j) => j.type)).toEqual(['uts']);
    expect(setnsOrder(kernel)).toEqual([[CLONE.NEWUTS, '/proc/self/ns/uts']]);
  });

  it('refuses a path that is not a namespace of the type it is given as, before anything is joined', () => {
    expect(() => joined([{ type: 'ipc', path: '/proc/self/ns/uts' }])).toThrow(/ipc namespace path \/proc\/self\/ns\/uts is a uts namespace/);
    expect(() => joined([{ type: 'ipc', path: '/etc/passwd' }])).toThrow(/ipc namespace path \/etc\/passwd is not a namespace file/);
  });

  it('says which namespace could not be joined', () => {
    const plan = planNamespaces([{ type: 'uts', path: '/proc/self/ns/uts' }]);
    openJoins(plan);
    try {
      const kernel = new KernelDouble().fail('setns', 'EPERM');
      expect(() => joinNamespaces(kernel, plan)).toThrow(
        /joining uts namespace \/proc\/self\/ns\/uts: setns: EPERM .*not permitted: is it owned by a user namespace/,
      );
    } finally {
      closeJoins(plan);
    }
  });
});
