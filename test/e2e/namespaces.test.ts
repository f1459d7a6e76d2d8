// Namespaces seen from inside: user namespaces with several id ranges, time
// namespaces with offsets, and joining every type of namespace by path.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, bundleWithOutbox, hostMountsMentioning, isRoot, processesMentioning, uniqueId, waitFor, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

const ALL_TYPES = ['user', 'pid', 'network', 'ipc', 'uts', 'mount', 'cgroup', 'time'] as const;
const PROC_NAME: Record<string, string> = { network: 'net', mount: 'mnt', time: 'time' };
const procName = (type: string) => PROC_NAME[type] ?? type;
const hostNs = (name: string) => readlinkSync(`/proc/self/ns/${name}`);
const NS_REPORT = 'for t in user pid net ipc uts mnt cgroup time; do echo "$t $(readlink /proc/self/ns/$t)"; done';
const parseNs = (text: string) =>
  Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.split(' ')),
  );

/** The second field of /proc/uptime is idle time; the first follows CLOCK_BOOTTIME. */
const hostUptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

/**
 * For a user-namespaced root, who is nobody to the host's files: the outbox
 * and the scratch dir above it open to all, and its mount point made ahead.
 */
function openToAll({ outbox, bundle }: { outbox: string; bundle: { rootfs: string } }): void {
  chmodSync(path.dirname(outbox), 0o755);
  chmodSync(outbox, 0o777);
  mkdirSync(path.join(bundle.rootfs, 'out'), { recursive: true });
}

function userNamespaced(c: BundleConfig): void {
  c.linux.namespaces.push({ type: 'user' });
  c.linux.uidMappings = [
    { containerID: 0, hostID: 231072, size: 1000 },
    { containerID: 1000, hostID: 300000, size: 10 },
  ];
  c.linux.gidMappings = [{ containerID: 0, hostID: 231072, size: 2000 }];
  // sysfs belongs to the network namespace's owner: keep the host's, read-only, as rootless configs do.
  c.mounts = c.mounts.map((m) =>
    m.destination === '/sys' ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] } : m,
  );
  c.mounts = c.mounts.filter((m) => m.destination !== '/sys/fs/cgroup');
}

/** A detached container that reports into /out and then waits until /out/stop appears. */
function detached(script: string, mutate?: (c: BundleConfig) => void) {
  const box = bundleWithOutbox(rt, `${script}; echo done > /out/ready; while [ ! -e /out/stop ]; do sleep 0.05; done`, mutate);
  openToAll(box);
  const id = uniqueId();
  rt.ok(['run', '--detach', '--bundle', box.bundle.dir, id]);
  waitFor(() => box.out('ready') !== '', `${id} to report`);
  return { ...box, id, pid: rt.state(id).pid };
}

describe.skipIf(!isRoot)('namespaces', () => {
  it('a user namespace with several ranges: maps as configured, root inside is the mapped uid outside', () => {
    const { bundle, outbox, out } = bundleWithOutbox(
      rt,
      `cat /proc/self/uid_map > /out/uid_map; cat /proc/self/gid_map > /out/gid_map; cat /proc/self/setgroups > /out/setgroups;
       id -u > /out/uid; touch /out/made-by-root; ${NS_REPORT} > /out/ns`,
      userNamespaced,
    );
    openToAll({ outbox, bundle });
    try {
      rt.ok(['run', '--bundle', bundle.dir, uniqueId()]);
      expect(
        out('uid_map')
          .trim()
          .split('\n')
          .map((l) => l.trim().split(/\s+/)),
      ).toEqual([
        ['0', '231072', '1000'],
        ['1000', '300000', '10'],
      ]);
      expect(out('gid_map').trim().split(/\s+/)).toEqual(['0', '231072', '2000']);
      expect(out('setgroups').trim()).toBe('allow'); // written by a privileged runtime
      expect(out('uid').trim()).toBe('0');
      const made = statSync(path.join(outbox, 'made-by-root'));
      expect([made.uid, made.gid]).toEqual([231072, 231072]);
      const ns = parseNs(out('ns'));
      for (const type of ['user', 'pid', 'net', 'ipc', 'uts', 'mnt']) expect(ns[type], type).not.toBe(hostNs(type));
    } finally {
      bundle.cleanup();
    }
  });

  it('a process user in the second range maps to that range on the host', () => {
    const { bundle, outbox, out } = bundleWithOutbox(rt, 'id -u > /out/uid; touch /out/made', (c) => {
      userNamespaced(c);
      c.process.user = { uid: 1005, gid: 7 };
    });
    openToAll({ outbox, bundle });
    try {
      rt.ok(['run', '--bundle', bundle.dir, uniqueId()]);
      expect(out('uid').trim()).toBe('1005');
      const made = statSync(path.join(outbox, 'made'));
      expect([made.uid, made.gid]).toEqual([300005, 231079]);
    } finally {
      bundle.cleanup();
    }
  });

  it('a time namespace with monotonic and boottime offsets', () => {
    const { bundle, out } = bundleWithOutbox(
      rt,
      'cat /proc/uptime > /out/uptime; cat /proc/self/timens_offsets > /out/offsets; readlink /proc/self/ns/time > /out/ns',
      (c) => {
        c.linux.namespaces.push({ type: 'time' });
        c.linux.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: 7 * 86400, nanosecs: 500 } };
      },
    );
    try {
      const before = hostUptime();
      rt.ok(['run', '--bundle', bundle.dir, uniqueId()]);
      const after = hostUptime();
      const inside = Number(out('uptime').split(' ')[0]);
      expect(inside).toBeGreaterThanOrEqual(before + 7 * 86400);
      expect(inside).toBeLessThanOrEqual(after + 7 * 86400 + 1);
      const offsets = Object.fromEntries(
        out('offsets')
          .trim()
          .split('\n')
          .map((l) => {
            const [clock, s, ns] = l.trim().split(/\s+/);
            return [clock, [s, ns]];
          }),
      );
      expect(offsets).toEqual({ monotonic: ['86400', '0'], boottime: ['604800', '500'] });
      expect(out('ns').trim()).not.toBe(hostNs('time'));
    } finally {
      bundle.cleanup();
    }
  });

  it('joins every type of namespace of another container by path, user namespace first', () => {
    // The holder owns one namespace of each type, all owned by its user namespace.
    const holder = detached(`${NS_REPORT} > /out/ns; hostname > /out/hostname`, (c) => {
      userNamespaced(c);
      c.hostname = 'holder';
      c.linux.namespaces.push({ type: 'cgroup' }, { type: 'time' });
      c.linux.timeOffsets = { boottime: { secs: 86400 } };
    });
    // Its mounts are the holder's, /out included: it reports into the holder's outbox.
    const joinerBundle = bundleWithOutbox(
      rt,
      `${NS_REPORT} > /out/j-ns; hostname > /out/j-hostname; id -u > /out/j-uid; cat /proc/uptime > /out/j-uptime`,
      (c) => {
        c.linux.namespaces = ALL_TYPES.map((type) => ({ type, path: `/proc/${holder.pid}/ns/${procName(type)}` }));
        delete c.linux.uidMappings;
        delete c.linux.gidMappings;
        delete c.hostname;
        c.mounts = [];
      },
    );
    const id = uniqueId();
    try {
      rt.ok(['create', '--bundle', joinerBundle.bundle.dir, id]);
      const recorded = JSON.parse(readFileSync(path.join(rt.root, id, 'state.json'), 'utf8'));
      expect(recorded.joined).toEqual([holder.id]);
      rt.ok(['start', id]);
      waitFor(() => holder.out('j-uptime') !== '', 'the joiner to report');
      const seen = parseNs(holder.out('j-ns'));
      const theirs = parseNs(holder.out('ns'));
      expect(seen).toEqual(theirs);
      for (const type of Object.keys(theirs)) expect(seen[type], type).not.toBe(hostNs(type));
      expect(holder.out('j-hostname')).toBe('holder\n');
      expect(holder.out('j-uid')).toBe('0\n');
      expect(Number(holder.out('j-uptime').split(' ')[0])).toBeGreaterThan(hostUptime() + 86400 - 60);
    } finally {
      rt.run(['delete', '--force', id]);
      writeFileSync(path.join(holder.outbox, 'stop'), '');
      rt.run(['delete', '--force', holder.id]);
      holder.bundle.cleanup();
      joinerBundle.bundle.cleanup();
    }
  });

  it('joins a bind-mounted namespace file (as `ip netns add` makes them)', () => {
    const nsFile = rt.scratchPath('netns');
    writeFileSync(nsFile, '');
    const made = spawnSync('unshare', [`--net=${nsFile}`, 'true']);
    expect(made.status, made.stderr?.toString()).toBe(0);
    const { bundle, out } = bundleWithOutbox(rt, 'readlink /proc/self/ns/net > /out/net', (c) => {
      c.linux.namespaces = c.linux.namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: nsFile } : ns));
    });
    try {
      rt.ok(['run', '--bundle', bundle.dir, uniqueId()]);
      expect(out('net')).toBe(`net:[${statSync(nsFile).ino}]\n`);
    } finally {
      spawnSync('umount', [nsFile]);
      bundle.cleanup();
    }
  });

  it('refuses a namespace file of the wrong type or a file that is no namespace, leaving nothing behind', () => {
    const nsFile = rt.scratchPath('ipcns');
    writeFileSync(nsFile, '');
    expect(spawnSync('unshare', [`--ipc=${nsFile}`, 'true']).status).toBe(0);
    const cases: [string, RegExp][] = [
      [nsFile, /network namespace path \S+ipcns is a ipc namespace/],
      ['/proc/self/ns/uts', /network namespace path \/proc\/self\/ns\/uts is a uts namespace/],
      ['/etc/passwd', /network namespace path \/etc\/passwd is not a namespace file/],
      ['/dev/null', /network namespace path \/dev\/null is not a namespace file/],
      ['/nonexistent/ns', /network namespace path \/nonexistent\/ns cannot be opened: ENOENT/],
    ];
    const { bundle } = bundleWithOutbox(rt, 'true');
    try {
      for (const [nsPath, message] of cases) {
        bundle.config.linux.namespaces = bundle.config.linux.namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: nsPath } : ns));
        bundle.write();
        const id = uniqueId();
        const r = rt.run(['run', '--bundle', bundle.dir, id]);
        expect(r.code).not.toBe(0);
        expect(r.stderr.trim()).toMatch(message);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(rt.containerIds()).toEqual([]);
        expect(processesMentioning(id)).toEqual([]);
        expect(hostMountsMentioning(bundle.dir)).toEqual([]);
        expect(existsSync(`/sys/fs/cgroup/pids/${id}`)).toBe(false);
      }
    } finally {
      spawnSync('umount', [nsFile]);
      rmSync(nsFile, { force: true });
      bundle.cleanup();
    }
  });
});
