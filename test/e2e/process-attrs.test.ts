// Process attributes that outlive execve: linux.personality, process.ioPriority,
// process.scheduler; and the security modules (AppArmor, SELinux) and Intel
// RDT, which this kind of host usually lacks: asking for them there must be a
// clear error at create time that leaves nothing behind.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, isRoot, makeBundle, processesMentioning, runInContainer, uniqueId, type Bundle, type BundleConfig } from '../helpers/ocirun.js';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';

const rt = new Runtime();
const bundles: Bundle[] = [];
afterAll(() => {
  for (const b of bundles) b.cleanup();
  try {
    expect(rt.containerIds()).toEqual([]);
  } finally {
    rt.dispose();
  }
});

/** Field n (1-based, as in proc(5)) of /proc/<pid>/stat, as the shell sees its own. */
const STAT_FIELDS = 'cut -d" " -f19,40,41 /proc/$$/stat'; // nice, rt_priority, policy

/** A created container (its init set up and waiting for start): its pid, for looking at it from the host. */
function created(mutate: (c: BundleConfig) => void): { id: string; pid: number } {
  const bundle = makeBundle({ args: ['true'], mutate });
  bundles.push(bundle);
  const id = uniqueId('attrs');
  rt.ok(['create', '--bundle', bundle.dir, id]);
  return { id, pid: rt.state(id).pid };
}

function hostTool(tool: string, args: string[]): string {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${tool} is needed on the host (util-linux): ${r.error.message}`);
  return r.stdout + r.stderr;
}

function refusedCreate(mutate: (c: BundleConfig) => void): string {
  const bundle = makeBundle({ args: ['true'], mutate });
  bundles.push(bundle);
  const id = uniqueId('bad');
  const r = rt.run(['create', '--bundle', bundle.dir, id]);
  expect(r.code, r.stderr).toBe(1);
  expect(rt.containerIds(), 'state left behind').not.toContain(id);
  expect(processesMentioning(id), 'process left behind').toEqual([]);
  return r.stderr;
}

const apparmor = (() => {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
})();
const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
const selinux = / - selinuxfs /.test(mountinfo);
const resctrl = / - resctrl /.test(mountinfo);
const rtGroupScheduling = existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us');

describe.skipIf(!isRoot)('linux.personality', () => {
  it('LINUX32 makes uname report a 32-bit machine; LINUX leaves it alone', () => {
    const r32 = runInContainer(rt, 'uname -m', (c) => (c.linux.personality = { domain: 'LINUX32' }));
    expect(r32.code, r32.stderr).toBe(0);
    expect(r32.stdout.trim()).toBe(process.arch === 'x64' ? 'i686' : 'armv8l');
    const r64 = runInContainer(rt, 'uname -m', (c) => (c.linux.personality = { domain: 'LINUX' }));
    expect(r64.stdout.trim()).toBe(os.machine());
  });
});

describe.skipIf(!isRoot)('settings that cannot be granted: a warning, not a failure (config.md)', () => {
  it('personality flags are ignored with a warning, as runc does', () => {
    const r = runInContainer(rt, 'uname -m', (c) => (c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] }));
    expect([r.code, r.stdout.trim()]).toEqual([0, os.machine()]);
    expect(r.stderr).toBe('ocirun: warning: linux.personality.flags: ignoring ADDR_NO_RANDOMIZE: no flag values are supported\n');
  });

  it("an unknown capability, and one outside the runtime's bounding set, are dropped with one warning", () => {
    const bundle = makeBundle({
      args: ['sh', '-c', 'grep CapBnd /proc/self/status'],
      mutate: (c) => {
        for (const set of ['bounding', 'effective', 'permitted'] as const) {
          c.process.capabilities![set] = ['CAP_CHOWN', 'CAP_TEST', 'CAP_SYS_MODULE'];
        }
      },
    });
    bundles.push(bundle);
    // ocirun started with CAP_SYS_MODULE dropped from its own bounding set.
    const r = spawnSync('setpriv', ['--bounding-set', '-sys_module', OCIRUN_BIN, '--root', rt.root, 'run', '--bundle', bundle.dir, uniqueId('caps')], {
      encoding: 'utf8',
    });
    expect([r.status, r.stdout]).toEqual([0, 'CapBnd:\t0000000000000001\n']); // CAP_CHOWN alone
    expect(r.stderr).toBe(
      "ocirun: warning: process.capabilities: ignoring CAP_TEST (unknown to this kernel), CAP_SYS_MODULE (not in ocirun's own bounding set): they cannot be granted\n",
    );
  });
});

describe.skipIf(!isRoot)('process.ioPriority', () => {
  it('is set on the init before start, and inherited by what it runs', () => {
    const { id, pid } = created((c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 }));
    expect(hostTool('ionice', ['-p', String(pid)]).trim()).toBe('best-effort: prio 6');
    rt.ok(['delete', '-f', id]);
    const idle = created((c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 }));
    expect(hostTool('ionice', ['-p', String(idle.pid)]).trim()).toBe('idle');
    rt.ok(['delete', '-f', idle.id]);
  });

  it('takes the realtime class before the capabilities are dropped (a non-root user without CAP_SYS_ADMIN)', () => {
    const { id, pid } = created((c) => {
      c.process.ioPriority = { class: 'IOPRIO_CLASS_RT', priority: 2 };
      c.process.user = { uid: 1000, gid: 1000 };
    });
    expect(hostTool('ionice', ['-p', String(pid)]).trim()).toBe('realtime: prio 2');
    rt.ok(['delete', '-f', id]);
  });
});

describe.skipIf(!isRoot)('process.scheduler', () => {
  it('SCHED_BATCH with a nice value, seen by the container process', () => {
    const r = runInContainer(rt, STAT_FIELDS, (c) => (c.process.scheduler = { policy: 'SCHED_BATCH', nice: 7 }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('7 0 3');
  });

  it('SCHED_FIFO with a priority, for a user without CAP_SYS_NICE', () => {
    const r = runInContainer(rt, STAT_FIELDS, (c) => {
      c.process.scheduler = { policy: 'SCHED_FIFO', priority: 10 };
      c.process.user = { uid: 1000, gid: 1000 };
      // With RT group scheduling (cgroup v1's cpu.rt_runtime_us), a new cgroup has no
      // real-time budget and sched_setattr fails: engines give one, so does this test.
      if (rtGroupScheduling) c.linux.resources = { cpu: { realtimeRuntime: 10_000, realtimePeriod: 1_000_000 } };
    });
    expect(r.code, r.stderr).toBe(0);
    const [, rtPriority, policy] = r.stdout.trim().split(' ');
    expect([rtPriority, policy]).toEqual(['10', '1']);
  });

  it('SCHED_IDLE, checked from the host with chrt', () => {
    const { id, pid } = created((c) => (c.process.scheduler = { policy: 'SCHED_IDLE' }));
    expect(hostTool('chrt', ['-p', String(pid)])).toContain('SCHED_IDLE');
    rt.ok(['delete', '-f', id]);
  });

  it('SCHED_DEADLINE with runtime, deadline and period (reset on fork, so the shell can fork)', () => {
    const r = runInContainer(rt, STAT_FIELDS, (c) => {
      c.process.scheduler = {
        policy: 'SCHED_DEADLINE',
        runtime: 20_000_000,
        deadline: 50_000_000,
        period: 100_000_000,
        flags: ['SCHED_FLAG_RESET_ON_FORK'],
      };
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split(' ')[2]).toBe('6');
  });

  it('applies to exec too (--process)', () => {
    const bundle = makeBundle({ args: ['sleep', '1000'] });
    bundles.push(bundle);
    const id = uniqueId('exec');
    rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
    const file = rt.scratchPath(`${id}.process.json`);
    writeFileSync(
      file,
      JSON.stringify({
        args: ['sh', '-c', STAT_FIELDS],
        cwd: '/',
        env: ['PATH=/bin'],
        user: { uid: 0, gid: 0 },
        scheduler: { policy: 'SCHED_IDLE' },
        ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 },
      }),
    );
    const r = rt.run(['exec', '--process', file, id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split(' ')[2]).toBe('5');
    rt.ok(['delete', '-f', id]);
  });

  it('refuses what the kernel would refuse, naming the field', () => {
    expect(refusedCreate((c) => (c.process.scheduler = { policy: 'SCHED_FIFO' }))).toBe(
      'ocirun: config.json: /process/scheduler/priority: must be between 1 and 99 for SCHED_FIFO\n',
    );
    expect(refusedCreate((c) => (c.process.scheduler = { policy: 'SCHED_OTHER', runtime: 1000 }))).toBe(
      'ocirun: config.json: /process/scheduler/runtime: can only be set with SCHED_DEADLINE, not SCHED_OTHER\n',
    );
    expect(refusedCreate((c) => (c.process.scheduler = { policy: 'SCHED_ISO' }))).toBe(
      'ocirun: config.json: /process/scheduler/policy: SCHED_ISO is not implemented by Linux\n',
    );
    expect(refusedCreate((c) => (c.process.scheduler = { policy: 'SCHED_DEADLINE', runtime: 5000, deadline: 4000 }))).toBe(
      'ocirun: config.json: /process/scheduler/deadline: must be at least runtime (5000) for SCHED_DEADLINE\n',
    );
  });
});

describe.skipIf(!isRoot)('security modules and Intel RDT missing from the host', () => {
  it.skipIf(apparmor)('process.apparmorProfile without AppArmor is an error', () => {
    const stderr = refusedCreate((c) => (c.process.apparmorProfile = 'docker-default'));
    expect(stderr).toBe(
      'ocirun: config.json: /process/apparmorProfile: AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not "Y"): cannot apply profile "docker-default"\n',
    );
  });

  it.skipIf(selinux)('process.selinuxLabel without SELinux is an error', () => {
    const stderr = refusedCreate((c) => (c.process.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2'));
    expect(stderr).toMatch(/^ocirun: config\.json: \/process\/selinuxLabel: SELinux is not enabled on this host/);
  });

  it.skipIf(selinux)('linux.mountLabel without SELinux is a warning (as crun), and the mounts are made without it', () => {
    const r = runInContainer(rt, 'grep -c context= /proc/self/mountinfo', (c) => (c.linux.mountLabel = 'system_u:object_r:container_file_t:s0:c1,c2'));
    expect([r.code, r.stdout]).toEqual([1, '0\n']); // grep -c: no line with a label
    expect(r.stderr).toBe(
      'ocirun: warning: linux.mountLabel: SELinux is not enabled on this host (no selinuxfs mounted): ignoring "system_u:object_r:container_file_t:s0:c1,c2"\n',
    );
  });

  it.skipIf(resctrl)('linux.intelRdt without a resctrl filesystem is an error', () => {
    const stderr = refusedCreate((c) => (c.linux.intelRdt = { closID: 'gold', l3CacheSchema: 'L3:0=ff' }));
    expect(stderr).toMatch(/^ocirun: config\.json: \/linux\/intelRdt: no resctrl filesystem is mounted on this host/);
  });

  it.skipIf(apparmor)('exec with an AppArmor profile is refused too, and starts nothing', () => {
    const bundle = makeBundle({ args: ['sleep', '1000'] });
    bundles.push(bundle);
    const id = uniqueId('exec');
    rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
    const r = rt.run(['exec', '--apparmor', 'docker-default', id, 'sh', '-c', 'echo started']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('apparmorProfile: AppArmor is not enabled on this host');
    expect(r.stdout).not.toContain('started');
    rt.ok(['delete', '-f', id]);
  });
});
