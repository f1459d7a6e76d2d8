// Cgroups live, on this host's cgroup v1 hierarchies: limits enforced (memory,
// pids, devices), visible from inside, changed by update, pause/resume, ps,
// events (stats and OOM), and no cgroup left behind by delete or by a create
// that fails.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bundleWithOutbox,
  Runtime,
  isRoot,
  makeBundle,
  processAlive,
  processesMentioning,
  runInContainer,
  sleep,
  uniqueId,
  waitFor,
  type Bundle,
  type BundleConfig,
} from '../helpers/ocirun.js';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';

const rt = new Runtime();
afterAll(() => rt.dispose());

const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
const isV1Host = / - cgroup cgroup .*\bmemory\b/.test(mountinfo) && / - cgroup cgroup .*\bfreezer\b/.test(mountinfo);

function stateFile(id: string): { pid: number; cgroupPaths: Record<string, string>; config: { linux: { resources: Record<string, unknown> } } } {
  return JSON.parse(readFileSync(path.join(rt.root, id, 'state.json'), 'utf8'));
}

/** A cgroup file of the container, from the paths its state records. */
function cg(id: string, controller: string, file: string): string {
  return readFileSync(path.join(stateFile(id).cgroupPaths[controller], file), 'utf8').trim();
}

/** Every directory named `id` in any hierarchy (at its root, or under this process's own cgroup). */
function cgroupDirsNamed(name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e === name) found.push(path.join(dir, e));
      else if (depth < 3) walk(path.join(dir, e), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

function withBundle<T>(b: { bundle: Bundle }, fn: () => T): T {
  try {
    return fn();
  } finally {
    b.bundle.cleanup();
  }
}

describe.skipIf(!isRoot || !isV1Host)('cgroups (v1 host)', () => {
  it('memory: a process above the limit is OOM-killed, and events reports the OOM', () => {
    const b = bundleWithOutbox(
      rt,
      'echo ready > /out/ready; while [ ! -e /out/go ]; do sleep 0.05; done; ' +
        'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo "dd $?" > /out/result; sleep 987',
      (c) => {
        c.linux.resources = { memory: { limit: 32 << 20, swap: 32 << 20 } };
      },
    );
    const id = uniqueId();
    withBundle(b, () => {
      rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
      expect(cg(id, 'memory', 'memory.limit_in_bytes')).toBe(String(32 << 20));
      waitFor(() => b.out('ready') !== '', 'the container');
      const eventsFile = rt.scratchPath(`events-${id}`);
      const fd = openSync(eventsFile, 'w');
      const events = spawn(OCIRUN_BIN, ['--root', rt.root, 'events', '--interval', '200ms', id], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      try {
        const read = () => readFileSync(eventsFile, 'utf8');
        waitFor(() => read().includes('"type":"stats"'), 'a first stats event', 10_000);
        writeFileSync(path.join(b.outbox, 'go'), '');
        waitFor(() => b.out('result') !== '', 'dd to end');
        expect(b.out('result')).toBe('dd 137\n'); // SIGKILL from the OOM killer
        waitFor(() => read().includes(`{"type":"oom","id":"${id}"}`), 'the oom event', 10_000);
        const stats = read()
          .split('\n')
          .filter((l) => l.startsWith('{"type":"stats"'));
        const data = JSON.parse(stats[0]).data;
        expect(data.memory.usage.limit).toBe(32 << 20);
        expect(Object.keys(data)).toEqual(['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
        const once = JSON.parse(rt.ok(['events', '--stats', id]).stdout);
        expect(once).toMatchObject({ type: 'stats', id });
        expect(once.data.pids.current).toBeGreaterThanOrEqual(1); // the shell (dd is gone)
        expect(once.data.memory.usage.max).toBeGreaterThan(16 << 20); // dd's buffer got that far before the kill
        rt.ok(['delete', '--force', id]);
        // (a synchronous wait: the child's exit is seen in /proc, not through the event loop)
        waitFor(() => !processAlive(events.pid!), 'events to end with the container');
      } finally {
        if (processAlive(events.pid!)) events.kill('SIGKILL');
      }
    });
  });

  it('pids: a limit of 0 is a limit (config-linux.md): the process runs, but cannot fork', () => {
    // Builtins until /bin/echo, which is not the last command (sh would exec that one, not fork).
    const script = 'read max < /sys/fs/cgroup/pids/pids.max; echo "max=$max"; /bin/echo forked; echo after';
    const r = runInContainer(rt, script, (c) => (c.linux.resources = { pids: { limit: 0 } }));
    expect(r.stdout).toBe('max=0\n');
    expect(r.stderr).toMatch(/can't fork/);
  });

  it('pids: a loop starting 50 sleeps under pids.max 10 gets at most 9 of them', () => {
    const b = bundleWithOutbox(
      rt,
      '(for i in $(seq 50); do sleep 987 & echo $i > /out/started; done) 2>/out/err; ' +
        'read c < /sys/fs/cgroup/pids/pids.current; read e < /sys/fs/cgroup/pids/pids.events; echo "current=$c $e" > /out/result; sleep 987',
      (c) => {
        c.linux.resources = { pids: { limit: 10 } };
      },
    );
    const id = uniqueId();
    withBundle(b, () => {
      rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
      waitFor(() => b.out('result') !== '', 'the loop to be stopped');
      const started = Number(b.out('started'));
      expect(started).toBeGreaterThan(0);
      expect(started).toBeLessThan(10); // 50 asked for; the shell and the loop's subshell count too
      expect(b.out('err')).toMatch(/can't fork/);
      const [, current, refused] = /^current=(\d+) max (\d+)$/m.exec(b.out('result'))!;
      expect(Number(current)).toBeLessThanOrEqual(10);
      expect(Number(refused)).toBeGreaterThan(0); // the kernel's count of refused forks
      expect(cg(id, 'pids', 'pids.max')).toBe('10');
      expect(Number(cg(id, 'pids', 'pids.current'))).toBeLessThanOrEqual(10);
      rt.ok(['delete', '--force', id]);
    });
  });

  it('cpu: quota, period, shares and cpuset are in the cgroup files, and the container sees them', () => {
    const b = bundleWithOutbox(
      rt,
      'cat /proc/self/cgroup > /out/cgroup; ' +
        'for f in cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus cpuset/cpuset.mems; do echo "$f $(cat /sys/fs/cgroup/$f)"; done > /out/inside; ' +
        'sleep 987',
      (c) => {
        c.linux.resources = { cpu: { quota: 50000, period: 100000, shares: 512, cpus: '0', mems: '0' } };
      },
    );
    const id = uniqueId();
    withBundle(b, () => {
      rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
      waitFor(() => b.out('inside').includes('cpuset.mems'), 'the container to look');
      expect([cg(id, 'cpu', 'cpu.cfs_quota_us'), cg(id, 'cpu', 'cpu.cfs_period_us'), cg(id, 'cpu', 'cpu.shares')]).toEqual(['50000', '100000', '512']);
      expect([cg(id, 'cpuset', 'cpuset.cpus'), cg(id, 'cpuset', 'cpuset.mems')]).toEqual(['0', '0']);
      expect(b.out('inside')).toBe(
        'cpu/cpu.cfs_quota_us 50000\ncpu/cpu.cfs_period_us 100000\ncpu/cpu.shares 512\ncpuset/cpuset.cpus 0\ncpuset/cpuset.mems 0\n',
      );
      // Without a cgroup namespace the container sees its host path, which ends in its id, in every hierarchy.
      const lines = b.out('cgroup').trim().split('\n');
      expect(lines.length).toBeGreaterThan(5);
      for (const line of lines) expect(line, line).toMatch(new RegExp(`/${id}$`));
      rt.ok(['delete', '--force', id]);
    });
    // With one, its cgroup is the root of what it sees, and /sys/fs/cgroup is still its own.
    const r = runInContainer(rt, 'cat /proc/self/cgroup; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us', (c) => {
      c.linux.namespaces.push({ type: 'cgroup' });
      c.linux.resources = { cpu: { quota: 30000, period: 100000 } };
    });
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out.pop()).toBe('30000');
    for (const line of out) expect(line).toMatch(/:\/$/);
  });

  it("every process is in the container's cgroup in every hierarchy: init, exec'd, and in a user namespace", () => {
    // Three ways in (process/spawn.ts): cloned into the cgroup2 one, joining v1 ones itself, or placed by the runtime.
    const hierarchiesOf = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
    const expectAllIn = (pid: number, id: string) => {
      const lines = hierarchiesOf(pid);
      expect(lines.length).toBe(hierarchiesOf(process.pid).length);
      for (const line of lines) expect(line, line).toMatch(new RegExp(`/${id}$`));
    };
    const id = uniqueId();
    rt.ok(['run', '-d', '--bundle', rt.bundle(['sleep', '987']).dir, id]);
    expectAllIn(rt.state(id).pid, id);
    const exec = rt.ok(['exec', id, 'cat', '/proc/self/cgroup']).stdout.trim().split('\n');
    expect(exec).toEqual(hierarchiesOf(rt.state(id).pid));
    rt.ok(['delete', '--force', id]);

    // Exec'd into a container not started yet, whose init has not joined its memory cgroup yet.
    const created = uniqueId();
    rt.ok(['create', '--bundle', rt.bundle(['sleep', '987']).dir, created]);
    const early = rt.ok(['exec', created, 'cat', '/proc/self/cgroup']).stdout.trim().split('\n');
    expect(early.length).toBe(hierarchiesOf(process.pid).length);
    for (const line of early) expect(line, line).toMatch(new RegExp(`/${created}$`));
    rt.ok(['delete', '--force', created]);

    const userns = uniqueId();
    rt.ok([
      'run',
      '-d',
      '--bundle',
      rt.bundle(['sleep', '987'], (c) => {
        c.linux.namespaces.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: 231072, size: 1000 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 231072, size: 1000 }];
        c.mounts = c.mounts.filter((m) => m.destination !== '/sys' && m.destination !== '/sys/fs/cgroup');
      }).dir,
      userns,
    ]);
    expectAllIn(rt.state(userns).pid, userns);
    rt.ok(['delete', '--force', userns]);
  });

  it('devices: a denied device cannot be opened, the default devices stay usable', () => {
    const script =
      'cat /dev/null; echo "null-read=$?"; echo x > /dev/null; echo "null-write=$?"; ' +
      'head -c 2 /dev/zero | od -An -tx1; head -c 1 /dev/urandom > /dev/null; echo "urandom=$?"; ' +
      '(exec 3<>/dev/fuse2); echo "fuse=$?"';
    const fuse = { type: 'c', path: '/dev/fuse2', major: 10, minor: 229, fileMode: 0o666 };
    const denied = runInContainer(rt, script, (c) => {
      c.linux.devices = [fuse];
      c.linux.resources = {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: false, type: 'c', major: 1, minor: 3, access: 'r' },
        ],
      };
    });
    expect(denied.stdout).toMatch(/^null-read=1\nnull-write=0\n 00 00\nurandom=0\nfuse=[12]\n$/);
    expect(denied.stderr).toMatch(/cat: can't open '\/dev\/null': Operation not permitted/);
    expect(denied.stderr).toMatch(/can't (open|create) \/dev\/fuse2: Operation not permitted/);
    // The same container with fuse allowed and /dev/null left alone.
    const allowed = runInContainer(rt, script, (c) => {
      c.linux.devices = [fuse];
      c.linux.resources = {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
        ],
      };
    });
    expect(allowed.stdout).toBe('null-read=0\nnull-write=0\n 00 00\nurandom=0\nfuse=0\n');
  });

  it("devices: devices.list shows the allowed devices in the order of the config's rules (runtime-tools linux_cgroups_devices)", () => {
    const devices = [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
      { allow: true, type: 'b', major: 8, minor: 20, access: 'rw' },
      { allow: true, type: 'b', major: 10, minor: 200, access: 'r' },
    ];
    const bundle = rt.bundle(['true'], (c) => (c.linux.resources = { devices }));
    const id = uniqueId();
    rt.ok(['create', '--bundle', bundle.dir, id]);
    try {
      expect(cg(id, 'devices', 'devices.list').split('\n').slice(0, 4)).toEqual(['c 10:229 rwm', 'b 8:20 rw', 'b 10:200 r', 'c *:* m']);
    } finally {
      rt.ok(['delete', '--force', id]);
    }
  });

  it('update changes the limits of a running container and records them', () => {
    const b = bundleWithOutbox(rt, 'while true; do cat /sys/fs/cgroup/pids/pids.max > /out/pids.tmp; mv /out/pids.tmp /out/pids; sleep 0.05; done', (c) => {
      c.linux.resources = { memory: { limit: 64 << 20, swap: 64 << 20 }, pids: { limit: 100 } };
    });
    const id = uniqueId();
    withBundle(b, () => {
      rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
      expect([cg(id, 'memory', 'memory.limit_in_bytes'), cg(id, 'pids', 'pids.max'), cg(id, 'cpu', 'cpu.cfs_quota_us')]).toEqual([
        String(64 << 20),
        '100',
        '-1',
      ]);
      rt.ok([
        'update',
        '--memory',
        '48M',
        '--memory-swap',
        '96M',
        '--pids-limit',
        '20',
        '--cpu-quota',
        '20000',
        '--cpu-period',
        '100000',
        '--cpu-share',
        '256',
        '--cpuset-cpus',
        '0',
        id,
      ]);
      expect(cg(id, 'memory', 'memory.limit_in_bytes')).toBe(String(48 << 20));
      expect(cg(id, 'memory', 'memory.memsw.limit_in_bytes')).toBe(String(96 << 20));
      expect([cg(id, 'pids', 'pids.max'), cg(id, 'cpu', 'cpu.cfs_quota_us'), cg(id, 'cpu', 'cpu.shares'), cg(id, 'cpuset', 'cpuset.cpus')]).toEqual([
        '20',
        '20000',
        '256',
        '0',
      ]);
      waitFor(() => b.out('pids') === '20\n', 'the container to see pids.max 20');
      expect(stateFile(id).config.linux.resources).toMatchObject({
        memory: { limit: 48 << 20, swap: 96 << 20 },
        pids: { limit: 20 },
        cpu: { quota: 20000, period: 100000, shares: 256, cpus: '0' },
      });
      // -r - : a LinuxResources document on stdin; the flags are then ignored.
      const input = rt.scratchPath(`resources-${id}.json`);
      writeFileSync(input, JSON.stringify({ pids: { limit: 30 }, cpu: { quota: -1 } }));
      rt.ok(['update', '-r', '-', '--pids-limit', '5', id], { stdin: input });
      expect([cg(id, 'pids', 'pids.max'), cg(id, 'cpu', 'cpu.cfs_quota_us')]).toEqual(['30', '-1']);
      expect(stateFile(id).config.linux.resources).toMatchObject({ pids: { limit: 30 }, cpu: { quota: -1, shares: 256 } });
      // Bad values change nothing.
      const bad = rt.run(['update', '--memory', 'lots', id]);
      expect(bad.stderr).toBe('ocirun: --memory: "lots" is not a size such as 512k, 16M or 1g (or -1 for no limit)\n');
      const below = rt.run(['update', '--memory', '200M', id]);
      expect(below.stderr).toMatch(/^ocirun: linux\.resources\.memory\.limit: 209715200 is above the memory\+swap limit 100663296: set memory\.swap as well/);
      expect(cg(id, 'pids', 'pids.max')).toBe('30');
      expect(rt.run(['update', '--pids-limit', '5', uniqueId('none')]).stderr).toMatch(/: container does not exist\n$/);
      rt.ok(['kill', id, 'KILL']);
      waitFor(() => rt.state(id).status === 'stopped', 'the container to stop');
      expect(rt.run(['update', '--pids-limit', '5', id]).stderr).toBe(`ocirun: ${id}: container not running\n`);
      rt.ok(['delete', id]);
    });
  });

  it('update with memory.checkBeforeUpdate refuses a limit below the usage, changing nothing', () => {
    // 32 MiB of clean page cache: usage the kernel would reclaim to fit a lower limit without a word.
    const b = bundleWithOutbox(rt, 'dd if=/dev/zero of=/out/fill bs=1M count=32 conv=fsync 2>/dev/null && echo yes > /out/filled && sleep 60');
    const id = uniqueId();
    withBundle(b, () => {
      rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
      try {
        waitFor(() => b.out('filled') !== '', 'the container to fill the page cache', 20_000);
        const limitBefore = cg(id, 'memory', 'memory.limit_in_bytes');
        const input = rt.scratchPath(`resources-${id}.json`);
        writeFileSync(input, JSON.stringify({ memory: { limit: 16 << 20, checkBeforeUpdate: true }, pids: { limit: 7 } }));
        const r = rt.run(['update', '-r', input, id]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^ocirun: linux\.resources\.memory\.limit: 16777216 is below the current usage \d+ \(checkBeforeUpdate\)\n$/);
        expect([cg(id, 'memory', 'memory.limit_in_bytes'), cg(id, 'pids', 'pids.max')]).toEqual([limitBefore, 'max']);
        expect(stateFile(id).config.linux.resources.memory).toBeUndefined();
        // Without the check the kernel reclaims the page cache and takes the limit.
        writeFileSync(input, JSON.stringify({ memory: { limit: 16 << 20 } }));
        rt.ok(['update', '-r', input, id]);
        expect(cg(id, 'memory', 'memory.limit_in_bytes')).toBe(String(16 << 20));
      } finally {
        rt.ok(['delete', '--force', id]);
      }
    });
  });

  it('pause freezes every process, resume lets them go on; ps lists them', () => {
    const b = bundleWithOutbox(rt, 'sleep 987 & i=0; while true; do i=$((i+1)); echo $i > /out/n.tmp; mv /out/n.tmp /out/n; sleep 0.02; done');
    const id = uniqueId();
    withBundle(b, () => {
      rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
      waitFor(() => Number(b.out('n')) > 3, 'the counter');

      rt.ok(['pause', id]);
      expect(rt.state(id).status).toBe('paused');
      expect(cg(id, 'freezer', 'freezer.state')).toBe('FROZEN');
      const frozenAt = b.out('n');
      sleep(400);
      expect(b.out('n')).toBe(frozenAt);
      expect(rt.run(['pause', id]).stderr).toBe(`ocirun: ${id}: container not running\n`);
      expect(JSON.parse(rt.ok(['list', '--format', 'json']).stdout).find((c: { id: string }) => c.id === id).status).toBe('paused');

      // Frozen, the set of processes holds still: ps must list exactly the cgroup's.
      const pids: number[] = JSON.parse(rt.ok(['ps', '--format', 'json', id]).stdout);
      const procs = cg(id, 'pids', 'cgroup.procs')
        .split('\n')
        .map(Number)
        .sort((x, y) => x - y);
      expect([...pids].sort((x, y) => x - y)).toEqual(procs);
      expect(pids).toContain(rt.state(id).pid);
      expect(pids.length).toBeGreaterThanOrEqual(2); // the shell and the sleep (and perhaps the loop's own sleep)
      const table = rt.ok(['ps', id, '-o', 'pid,comm']).stdout.trim().split('\n');
      expect(table[0].trim()).toBe('PID COMMAND');
      expect(
        table
          .slice(1)
          .map((l) => Number(l.trim().split(/\s+/)[0]))
          .sort((x, y) => x - y),
      ).toEqual(procs);
      expect(table.some((l) => / sleep$/.test(l))).toBe(true);

      rt.ok(['resume', id]);
      expect(rt.state(id).status).toBe('running');
      waitFor(() => Number(b.out('n')) > Number(frozenAt) + 3, 'the counter to go on');
      expect(rt.run(['resume', id]).stderr).toBe(`ocirun: ${id}: container not paused\n`);

      // delete --force of a paused container: SIGKILL, thaw, and the cgroup goes.
      rt.ok(['pause', id]);
      const dirs = Object.values(stateFile(id).cgroupPaths);
      rt.ok(['delete', '--force', id]);
      for (const d of dirs) expect(existsSync(d), d).toBe(false);
      expect(processesMentioning(id)).toEqual([]);
    });
    expect(rt.run(['pause', uniqueId('none')]).stderr).toMatch(/: container does not exist\n$/);
  });

  it('delete leaves no cgroup directory in any hierarchy, with a nested path and with --systemd-cgroup', () => {
    const parent = `ocirun-e2e-${process.pid}`;
    const b = bundleWithOutbox(rt, 'sleep 987', (c) => {
      c.linux.cgroupsPath = `/${parent}/inner`;
    });
    const id = uniqueId();
    const sliceExisted = existsSync('/sys/fs/cgroup/pids/system.slice');
    try {
      withBundle(b, () => {
        rt.ok(['run', '-d', '--bundle', b.bundle.dir, id]);
        const paths = stateFile(id).cgroupPaths;
        expect(paths.pids).toBe(`/sys/fs/cgroup/pids/${parent}/inner`);
        expect(paths['']).toBe(`/sys/fs/cgroup/unified/${parent}/inner`);
        const dirs = [...new Set(Object.values(paths))];
        expect(dirs.length).toBeGreaterThanOrEqual(8);
        for (const d of dirs) expect(readFileSync(path.join(d, 'cgroup.procs'), 'utf8'), d).toContain(String(rt.state(id).pid));
        rt.ok(['delete', '--force', id]);
        for (const d of dirs) expect(existsSync(d), d).toBe(false);
      });
      const sd = bundleWithOutbox(rt, 'sleep 987', (c) => {
        c.linux.cgroupsPath = `system.slice:ocirun:${id}`;
      });
      withBundle(sd, () => {
        const r = rt.run(['run', '-d', '--bundle', sd.bundle.dir, id], { globals: ['--root', rt.root, '--systemd-cgroup'] });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(
          /^ocirun: warning: --systemd-cgroup: systemd is not running; managing \/system\.slice\/ocirun-.*\.scope through the cgroup filesystem instead\n$/,
        );
        const dirs = [...new Set(Object.values(stateFile(id).cgroupPaths))];
        expect(dirs).toContain(`/sys/fs/cgroup/pids/system.slice/ocirun-${id}.scope`);
        rt.ok(['delete', '--force', id]);
        for (const d of dirs) expect(existsSync(d), d).toBe(false);
        expect(cgroupDirsNamed(`ocirun-${id}.scope`)).toEqual([]);
      });
    } finally {
      for (const d of cgroupDirsNamed(parent)) rmdirSync(d);
      if (!sliceExisted) for (const d of cgroupDirsNamed('system.slice')) rmdirSync(d);
    }
  });

  it('the init is in every cgroup of the container, its memory one included, when create returns', () => {
    // containerd's shim reads metrics and OOM events from the cgroups of the init's pid right after create.
    const bundle = rt.bundle(['true'], (c) => (c.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 50 } }));
    const id = uniqueId();
    rt.ok(['create', '--bundle', bundle.dir, id]);
    try {
      const paths = stateFile(id).cgroupPaths;
      const byController = new Map<string, string>();
      for (const line of readFileSync(`/proc/${rt.state(id).pid}/cgroup`, 'utf8')
        .trim()
        .split('\n')) {
        const [, controllers, where] = line.split(':');
        for (const c of controllers.split(',')) byController.set(c || '', where);
      }
      const relative = (dir: string) => `/${path.relative(dir.slice(0, dir.indexOf('/', '/sys/fs/cgroup/'.length)), dir)}`;
      expect(byController.get('memory')).toBe(relative(paths.memory));
      expect(byController.get('pids')).toBe(relative(paths.pids));
    } finally {
      rt.ok(['delete', '--force', id]);
    }
  });

  it("memory: the limit binds the container's process, not the runtime setting it up", () => {
    // The init joins its memory cgroup once set up (process/spawn.ts): a shell runs under 160 KiB (README
    // "Cgroups" gives the measured minimum, a little lower), and the limit holds.
    const small = (limit: number) => (c: BundleConfig) => (c.linux.resources = { memory: { limit } });
    const ok = runInContainer(rt, 'echo ok', small(160 << 10));
    expect([ok.code, ok.stdout, ok.stderr]).toEqual([0, 'ok\n', '']);
    const over = runInContainer(rt, 'x=$(head -c 4000000 /dev/zero | tr "\\0" a); echo ${#x}', small(1 << 20));
    expect(over.code).toBe(137);
    // What it sees at /sys/fs/cgroup/memory is its own cgroup, though the init joined it after the mounts.
    const seen = runInContainer(rt, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes', small(4 << 20));
    expect([seen.code, seen.stdout]).toEqual([0, `${4 << 20}\n`]);
    // With a cgroup namespace the init is in its memory cgroup from the start; too little is a clear error at create.
    const b = bundleWithOutbox(rt, 'true', (c) => {
      small(256 << 10)(c);
      c.linux.namespaces.push({ type: 'cgroup' });
    });
    withBundle(b, () => {
      const id = uniqueId();
      const r = rt.run(['create', '--bundle', b.bundle.dir, id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^ocirun: the container's init was killed by the OOM killer while setting up the container: linux\.resources\.memory\.limit \(262144 bytes\)/,
      );
      expect(rt.containerIds()).not.toContain(id);
      expect(cgroupDirsNamed(id)).toEqual([]);
    });
  });

  describe('invalid settings: one clear error naming the field, and nothing left', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['a negative memory limit', { memory: { limit: -5 } }, /^ocirun: linux\.resources\.memory\.limit: -5 is out of range \(bytes, or -1 for no limit\)$/],
      ['a CPU period of 0', { cpu: { period: 0, quota: 1000 } }, /^ocirun: linux\.resources\.cpu\.period: 0 is out of range/],
      [
        'an empty device access',
        { devices: [{ allow: true, type: 'c', major: 1, minor: 3, access: '' }] },
        /^ocirun: linux\.resources\.devices\[0\]\.access: "" must be a non-empty combination of r, w and m$/,
      ],
      // Hosts differ in whether the hugetlb controller is mounted: each gets the case it can show.
      existsSync('/sys/fs/cgroup/hugetlb')
        ? [
            'huge pages of a size the kernel lacks',
            { hugepageLimits: [{ pageSize: '1GB', limit: 1 << 30 }] },
            /^ocirun: linux\.resources\.hugepageLimits\[0\]\.pageSize: this kernel has no 1GB huge pages/,
          ]
        : [
            'hugepages without the hugetlb controller',
            { hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }] },
            /^ocirun: linux\.resources\.hugepageLimits: the hugetlb controller is not available/,
          ],
      [
        'cgroup v2 settings on v1',
        { unified: { 'memory.high': '1000000' } },
        /^ocirun: linux\.resources\.unified: this host manages containers with cgroup v1/,
      ],
      [
        'a CPU the host does not have (refused by the kernel)',
        { cpu: { cpus: '63' } },
        /^ocirun: linux\.resources\.cpu\.cpus: cannot write "63" to \/sys\/fs\/cgroup\/cpuset\/.*\/cpuset\.cpus: (EINVAL|ERANGE)/,
      ],
    ];
    const b = bundleWithOutbox(rt, 'true');
    afterAll(() => b.bundle.cleanup());
    for (const [what, resources, message] of cases) {
      it(what, () => {
        const id = uniqueId();
        b.bundle.config.linux.resources = resources;
        b.bundle.write();
        const r = rt.run(['create', '--bundle', b.bundle.dir, id]);
        expect(r.code).toBe(1);
        expect(r.stderr.split('\n')[0]).toMatch(message);
        expect(rt.containerIds()).not.toContain(id);
        expect(cgroupDirsNamed(id)).toEqual([]);
        expect(processesMentioning(id)).toEqual([]);
      });
    }
  });
});
