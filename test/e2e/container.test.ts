// What a container's process sees, checked from inside it: its pid, names and
// namespaces, its mounts, masked and read-only paths, /dev, capabilities,
// rlimits, user, environment, sysctls, and what happens on the way out.
// Every container runs in the foreground (`ocirun run`) with its stdout
// captured, and every run is followed by a check that it left nothing behind.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  hostMountsMentioning,
  isRoot,
  makeBundle,
  parseMountinfo,
  uniqueId,
  type Bundle,
  type BundleConfig,
  type MountInfo,
  type Result,
  runtimeLeavingNoContainer,
} from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

// ---- running containers ----

interface RunOptions {
  mutate?: (config: BundleConfig) => void;
  /** Changes to the bundle (rootfs files, config) before the run; config.json is rewritten afterwards. */
  prepare?: (bundle: Bundle) => void;
  /** Looks at the bundle after the run, before it is removed. */
  inspect?: (bundle: Bundle) => void;
  /** Extra `run` options, e.g. --no-pivot. */
  runArgs?: string[];
  stdin?: string;
}

/**
 * `ocirun run` of a fresh bundle whose process is `sh -c script` (or the given
 * argv), then checks that nothing is left: no state directory, no host mount
 * mentioning the bundle.
 */
function runContainer(processArgs: string | string[], opts: RunOptions = {}): Result {
  const args = typeof processArgs === 'string' ? ['sh', '-c', processArgs] : processArgs;
  const bundle = makeBundle({ args, mutate: opts.mutate });
  try {
    opts.prepare?.(bundle);
    bundle.write();
    const result = rt.run(['run', ...(opts.runArgs ?? []), '--bundle', bundle.dir, uniqueId()], { stdin: opts.stdin });
    opts.inspect?.(bundle);
    expect(rt.containerIds(), 'container state left behind').toEqual([]);
    expect(hostMountsMentioning(bundle.dir), 'host mounts left behind').toEqual([]);
    return result;
  } finally {
    bundle.cleanup();
  }
}

interface Observation {
  /** stdout and stderr of the command, interleaved. */
  out: string;
  /** Its exit status. */
  rc: number;
}

/**
 * Runs several named shell commands in one container (each in a subshell, so
 * one failing does not stop the others) and returns what each printed and its
 * exit status. The container itself must exit 0 with nothing on stderr.
 */
function observe<K extends string>(commands: Record<K, string>, opts: RunOptions = {}): Record<K, Observation> {
  const script = Object.entries<string>(commands)
    .map(([name, command]) => `echo '@@@ ${name}'; ( ${command}\n) 2>&1; echo "@@@ rc=$?"`)
    .join('\n');
  const result = runContainer(script, opts);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const observed: Record<string, Observation> = {};
  for (const [, name, out, rc] of result.stdout.matchAll(/^@@@ (\S+)\n([\s\S]*?)^@@@ rc=(\d+)\n/gm)) {
    observed[name] = { out, rc: Number(rc) };
  }
  expect(Object.keys(observed)).toEqual(Object.keys(commands));
  return observed as Record<K, Observation>;
}

/** A one-line error on stderr, a non-zero exit, and nothing left (runContainer checks the last part). */
function expectCleanFailure(result: Result, ...mentions: string[]): void {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  for (const text of mentions) expect(result.stderr).toContain(text);
}

// ---- reading what the container printed ----

/** The topmost mount at `mountPoint`. */
function mountAt(mounts: MountInfo[], mountPoint: string): MountInfo {
  const found = mounts.filter((m) => m.mountPoint === mountPoint).pop();
  expect(found, `a mount at ${mountPoint}`).toBeDefined();
  return found!;
}

/** The value of one "Key:\tvalue" line of /proc/<pid>/status. */
function statusLine(status: string, key: string): string {
  const line = status.split('\n').find((l) => l.startsWith(`${key}:`));
  expect(line, `${key} in /proc/self/status`).toBeDefined();
  return line!.slice(key.length + 1).trim();
}

/** [soft, hard] of one line of /proc/<pid>/limits, e.g. "Max open files". */
function limitOf(limits: string, label: string): [string, string] {
  const line = limits.split('\n').find((l) => l.startsWith(label));
  expect(line, `${label} in /proc/self/limits`).toBeDefined();
  const [soft, hard] = line!.slice(label.length).trim().split(/\s+/);
  return [soft, hard];
}

// capability(7) numbers, independent of ocirun's own table.
const CAP = {
  CHOWN: 0,
  KILL: 5,
  SETUID: 7,
  NET_BIND_SERVICE: 10,
  NET_RAW: 13,
  SYS_CHROOT: 18,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  AUDIT_WRITE: 29,
} as const;
type CapName = keyof typeof CAP;

/** The set as /proc/self/status prints it: 16 hex digits. */
function capMask(names: CapName[]): string {
  return names
    .reduce((mask, name) => mask | (1n << BigInt(CAP[name])), 0n)
    .toString(16)
    .padStart(16, '0');
}

const capNames = (names: CapName[]) => names.map((n) => `CAP_${n}`);

/** The test VM withholds CAP_SYS_RESOURCE from everyone; the tests of that are skipped elsewhere. */
const hostLacksSysResource = !((BigInt(`0x${/^CapBnd:\s*(\w+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`) >> BigInt(CAP.SYS_RESOURCE)) & 1n);

const randomName = () => Math.random().toString(36).slice(2, 10);
const hostNs = (type: string) => fs.readlinkSync(`/proc/self/ns/${type}`);
const readHost = (file: string) => fs.readFileSync(file, 'utf8').trim();

describe.skipIf(!isRoot)('what a container sees', () => {
  describe('identity and namespaces', () => {
    it('is PID 1 with the configured hostname and domainname, in namespaces of its own', () => {
      const hostHostname = os.hostname();
      const seen = observe(
        {
          pid: 'echo $$',
          hostname: 'hostname',
          domainname: 'cat /proc/sys/kernel/domainname',
          ns: 'for t in pid net ipc uts mnt user cgroup; do echo "$t $(readlink /proc/self/ns/$t)"; done',
        },
        {
          mutate: (c) => {
            c.hostname = 'ctr-host';
            c.domainname = 'ctr.example';
          },
        },
      );
      expect(seen.pid.out).toBe('1\n');
      expect(seen.hostname.out).toBe('ctr-host\n');
      expect(seen.domainname.out).toBe('ctr.example\n');
      const ns = Object.fromEntries(
        seen.ns.out
          .trim()
          .split('\n')
          .map((l) => l.split(' ')),
      );
      for (const type of ['pid', 'net', 'ipc', 'uts', 'mnt']) {
        expect(ns[type]).toMatch(new RegExp(`^${type}:\\[\\d+\\]$`));
        expect(ns[type], `${type} namespace`).not.toBe(hostNs(type));
      }
      // Not in the config: shared with the host.
      expect(ns.user).toBe(hostNs('user'));
      expect(ns.cgroup).toBe(hostNs('cgroup'));
      expect(os.hostname()).toBe(hostHostname);
    });
  });

  describe('mounts', () => {
    it('has the rootfs read-only at / and the standard filesystems of the default config', () => {
      let rootfs = '';
      const seen = observe(
        { mountinfo: 'cat /proc/self/mountinfo', touchRoot: 'touch /x', touchSys: 'touch /sys/x' },
        { prepare: (b) => (rootfs = fs.realpathSync(b.rootfs)) },
      );
      const mounts = parseMountinfo(seen.mountinfo.out);

      const root = mountAt(mounts, '/');
      expect(root.root).toMatch(/\/rootfs$/);
      expect(rootfs.endsWith(root.root)).toBe(true); // root is relative to its filesystem
      expect(root.options).toContain('ro');
      expect(seen.touchRoot.rc).not.toBe(0);
      expect(seen.touchRoot.out).toContain('Read-only file system');

      expect(mountAt(mounts, '/proc').fstype).toBe('proc');

      const dev = mountAt(mounts, '/dev');
      expect(dev.fstype).toBe('tmpfs');
      expect(dev.options).toContain('nosuid');
      expect(dev.options).not.toContain('noexec');
      expect(dev.superOptions).toEqual(expect.arrayContaining(['mode=755', 'size=65536k']));

      const pts = mountAt(mounts, '/dev/pts');
      expect(pts.fstype).toBe('devpts');
      expect(pts.options).toEqual(expect.arrayContaining(['nosuid', 'noexec']));
      expect(pts.superOptions).toEqual(expect.arrayContaining(['gid=5', 'mode=620', 'ptmxmode=666']));

      const shm = mountAt(mounts, '/dev/shm');
      expect(shm.fstype).toBe('tmpfs');
      expect(shm.source).toBe('shm');
      expect(shm.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));

      const mqueue = mountAt(mounts, '/dev/mqueue');
      expect(mqueue.fstype).toBe('mqueue');
      expect(mqueue.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));

      const sys = mountAt(mounts, '/sys');
      expect(sys.fstype).toBe('sysfs');
      expect(sys.options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
      expect(seen.touchSys.out).toContain('Read-only file system');

      const cgroup = mountAt(mounts, '/sys/fs/cgroup');
      expect(['tmpfs', 'cgroup2']).toContain(cgroup.fstype);
      // Every cgroup v1 hierarchy of the host, read-only, at the same place.
      const hostV1 = parseMountinfo(readHost('/proc/self/mountinfo')).filter((m) => m.fstype === 'cgroup' && m.mountPoint.startsWith('/sys/fs/cgroup/'));
      for (const h of hostV1) {
        const inside = mountAt(mounts, h.mountPoint);
        expect(inside.fstype).toBe('cgroup');
        expect(inside.options).toContain('ro');
      }
      if (cgroup.fstype === 'tmpfs') expect(hostV1.length).toBeGreaterThan(0);
    });

    it('has a writable / when root.readonly is false', () => {
      let created = false;
      const seen = observe(
        { mountinfo: 'awk \'$5 == "/"\' /proc/self/mountinfo', touch: 'touch /x' },
        {
          mutate: (c) => (c.root.readonly = false),
          inspect: (b) => (created = fs.existsSync(path.join(b.rootfs, 'x'))),
        },
      );
      expect(parseMountinfo(seen.mountinfo.out)[0].options).toContain('rw');
      expect(seen.touch).toEqual({ out: '', rc: 0 });
      expect(created).toBe(true);
    });

    it('adds the configured mounts with their options, flags and propagation', () => {
      const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-hostdir-'));
      fs.writeFileSync(path.join(hostDir, 'file'), 'from the host\n');
      try {
        const seen = observe(
          {
            mountinfo: 'cat /proc/self/mountinfo',
            readBind: 'cat /bind/file',
            writeBind: 'touch /bind/new',
            tmpfsMode: 'stat -c "%a %u" /small',
            execNoexec: `printf '#!/bin/sh\\necho ran\\n' > /small/s && chmod +x /small/s && /small/s`,
            execPlain: `printf '#!/bin/sh\\necho ran\\n' > /shared/s && chmod +x /shared/s && /shared/s`,
          },
          {
            mutate: (c) => {
              c.mounts.push(
                { destination: '/bind', type: 'bind', source: hostDir, options: ['rbind', 'ro'] },
                { destination: '/small', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=1m,mode=700'] },
                { destination: '/shared', type: 'tmpfs', source: 'tmpfs', options: ['rshared'] },
                { destination: '/private', type: 'tmpfs', source: 'tmpfs', options: ['rprivate'] },
              );
            },
          },
        );
        const mounts = parseMountinfo(seen.mountinfo.out);

        const bind = mountAt(mounts, '/bind');
        expect(bind.root).toBe(hostDir);
        expect(bind.options).toContain('ro');
        expect(seen.readBind).toEqual({ out: 'from the host\n', rc: 0 });
        expect(seen.writeBind.rc).not.toBe(0);
        expect(seen.writeBind.out).toContain('Read-only file system');
        expect(fs.readdirSync(hostDir)).toEqual(['file']);

        const small = mountAt(mounts, '/small');
        expect(small.fstype).toBe('tmpfs');
        expect(small.options).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev', 'noexec']));
        expect(small.superOptions).toEqual(expect.arrayContaining(['size=1024k', 'mode=700']));
        expect(seen.tmpfsMode.out).toBe('700 0\n');
        expect(seen.execNoexec.rc).not.toBe(0);
        expect(seen.execNoexec.out).toContain('Permission denied');
        expect(seen.execPlain).toEqual({ out: 'ran\n', rc: 0 });

        const shared = mountAt(mounts, '/shared');
        expect(shared.options).not.toContain('noexec');
        expect(shared.tags.some((t) => t.startsWith('shared:'))).toBe(true);
        expect(mountAt(mounts, '/private').tags).toEqual([]);
      } finally {
        fs.rmSync(hostDir, { recursive: true, force: true });
      }
    });

    it('takes rootfsPropagation in the recursive forms engines send (rshared, rprivate), for the root and the mounts below it', () => {
      const propagationOf = (value: string) => {
        const seen = observe({ mountinfo: 'cat /proc/self/mountinfo' }, { mutate: (c) => (c.linux.rootfsPropagation = value) });
        const mounts = parseMountinfo(seen.mountinfo.out);
        return [mountAt(mounts, '/'), mountAt(mounts, '/proc')].map((m) => m.tags.map((t) => t.replace(/:\d+$/, '')));
      };
      expect(propagationOf('rshared')).toEqual([['shared'], ['shared']]);
      expect(propagationOf('rprivate')).toEqual([[], []]);
    });

    it('with --no-pivot still sees the rootfs as /', () => {
      let rootfs = '';
      let entries: string[] = [];
      const seen = observe(
        { mountinfo: 'cat /proc/self/mountinfo', ls: 'ls -A /', marker: 'cat /marker' },
        {
          runArgs: ['--no-pivot'],
          prepare: (b) => {
            fs.writeFileSync(path.join(b.rootfs, 'marker'), 'in the rootfs\n');
            rootfs = fs.realpathSync(b.rootfs);
            entries = fs.readdirSync(b.rootfs).sort();
          },
        },
      );
      const root = mountAt(parseMountinfo(seen.mountinfo.out), '/');
      expect(rootfs.endsWith(root.root)).toBe(true);
      expect(root.root).toMatch(/\/rootfs$/);
      expect(root.options).toContain('ro');
      expect(seen.ls.out.trim().split('\n').sort()).toEqual(entries);
      expect(seen.marker.out).toBe('in the rootfs\n');
    });

    it('tmpcopyup fills the tmpfs with what the image has there, symlinks as symlinks, the image untouched', () => {
      let rootfs = '';
      const seen = observe(
        {
          fstype: `awk '$5 == "/run" { print $(NF-2) }' /proc/self/mountinfo`,
          entries: 'cd /run && for e in . sub sub/deep sub/deep/file setuid fifo; do stat -c "%n %F %a %u:%g" $e; done',
          content: 'cat /run/sub/deep/file',
          links: 'stat -c "%F" /run/to-etc /run/up; readlink /run/to-etc; readlink /run/up; ls /run/to-etc/ | wc -l',
          write: 'touch /run/new',
        },
        {
          mutate: (c) => c.mounts.push({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'tmpcopyup'] }),
          prepare: (b) => {
            rootfs = b.rootfs;
            const run = path.join(b.rootfs, 'run');
            fs.mkdirSync(path.join(run, 'sub/deep'), { recursive: true });
            fs.writeFileSync(path.join(run, 'sub/deep/file'), 'from the image\n');
            fs.writeFileSync(path.join(run, 'setuid'), '');
            fs.chownSync(path.join(run, 'sub/deep/file'), 1000, 1001);
            fs.chmodSync(path.join(run, 'sub/deep/file'), 0o604);
            fs.chownSync(path.join(run, 'sub/deep'), 1000, 1000);
            fs.chmodSync(path.join(run, 'sub/deep'), 0o555);
            fs.chmodSync(path.join(run, 'setuid'), 0o4755);
            fs.chownSync(run, 1000, 1001);
            fs.chmodSync(run, 0o777);
            // Before the switch into the new root, /etc here would be the host's.
            fs.symlinkSync('/etc', path.join(run, 'to-etc'));
            fs.symlinkSync('../../../../..', path.join(run, 'up'));
            spawnSync('mkfifo', [path.join(run, 'fifo')]);
          },
          inspect: (b) => {
            expect(fs.existsSync(path.join(b.rootfs, 'run/new'))).toBe(false);
            expect(fs.readFileSync(path.join(b.rootfs, 'run/sub/deep/file'), 'utf8')).toBe('from the image\n');
          },
        },
      );
      expect(rootfs).not.toBe('');
      expect(seen.fstype.out).toBe('tmpfs\n');
      expect(seen.entries.out).toBe(
        [
          '. directory 777 1000:1001',
          'sub directory 755 0:0',
          'sub/deep directory 555 1000:1000',
          'sub/deep/file regular file 604 1000:1001',
          'setuid regular empty file 4755 0:0',
          'fifo fifo 644 0:0',
          '',
        ].join('\n'),
      );
      expect(seen.content.out).toBe('from the image\n');
      // The container's /etc (passwd and group), not the host's.
      expect(seen.links.out).toBe('symbolic link\nsymbolic link\n/etc\n../../../../..\n2\n');
      expect(seen.write).toEqual({ out: '', rc: 0 });
    });

    it('a tmpfs without mode= takes the mode of its mount point, as runc', () => {
      const seen = observe(
        { modes: 'stat -c "%n %a" /restricted /sticky /given' },
        {
          mutate: (c) =>
            c.mounts.push(
              { destination: '/restricted', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
              { destination: '/sticky', type: 'tmpfs', source: 'tmpfs', options: [] },
              { destination: '/given', type: 'tmpfs', source: 'tmpfs', options: ['mode=711'] },
            ),
          prepare: (b) => {
            for (const [dir, mode] of [
              ['restricted', 0o710],
              ['sticky', 0o1770],
              ['given', 0o700],
            ] as const) {
              fs.mkdirSync(path.join(b.rootfs, dir));
              fs.chmodSync(path.join(b.rootfs, dir), mode);
            }
          },
        },
      );
      expect(seen.modes.out).toBe('/restricted 710\n/sticky 1770\n/given 711\n');
    });

    it('with a user namespace, binds a source that only the runtime can reach, as runc', () => {
      const locked = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-locked-'));
      fs.mkdirSync(path.join(locked, 'data'));
      fs.writeFileSync(path.join(locked, 'data/file'), 'behind a mode-000 directory\n');
      fs.chmodSync(locked, 0o000);
      try {
        const seen = observe(
          { read: 'cat /data/file', uidMap: 'cat /proc/self/uid_map' },
          {
            mutate: (c) => {
              c.linux.namespaces.push({ type: 'user' });
              c.linux.uidMappings = [{ containerID: 0, hostID: 231072, size: 65536 }];
              c.linux.gidMappings = [{ containerID: 0, hostID: 231072, size: 65536 }];
              c.mounts = c.mounts.filter((m) => !m.destination.startsWith('/sys'));
              c.mounts.push({ destination: '/data', type: 'bind', source: path.join(locked, 'data'), options: ['rbind', 'ro'] });
            },
            // The namespace's root is nobody to the rootfs: the mount point is made ahead.
            prepare: (b) => fs.mkdirSync(path.join(b.rootfs, 'data')),
          },
        );
        expect(seen.uidMap.out.trim().split(/\s+/)).toEqual(['0', '231072', '65536']);
        expect(seen.read).toEqual({ out: 'behind a mode-000 directory\n', rc: 0 });
      } finally {
        fs.chmodSync(locked, 0o700);
        fs.rmSync(locked, { recursive: true, force: true });
      }
    });
  });

  describe('masked and read-only paths', () => {
    const MASKED_FILES = ['/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug'];
    const MASKED_DIRS = ['/proc/acpi', '/proc/asound', '/proc/scsi', '/sys/firmware'];
    const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
    // Only what exists on this kernel gets masked or made read-only.
    const maskedFiles = MASKED_FILES.filter((p) => fs.existsSync(p));
    const maskedDirs = MASKED_DIRS.filter((p) => fs.existsSync(p));
    const readonly = READONLY.filter((p) => fs.existsSync(p));

    const commands = {
      mountinfo: 'cat /proc/self/mountinfo',
      files: maskedFiles.map((p) => `echo "${p} $(wc -c < ${p})"`).join('; ') || 'true',
      dirs: maskedDirs.map((p) => `echo "${p} $(ls -A ${p} | wc -l)"`).join('; ') || 'true',
      writeDir: 'touch /sys/firmware/x',
      writeSysctl: 'echo 1 > /proc/sys/net/ipv4/ip_forward',
    };

    function expectMaskedAndReadonly(seen: Record<keyof typeof commands, Observation>): void {
      const mounts = parseMountinfo(seen.mountinfo.out);
      expect(seen.files.out).toBe(maskedFiles.map((p) => `${p} 0\n`).join(''));
      for (const p of maskedFiles) expect(mountAt(mounts, p).root).toBe('/null'); // /dev/null bound over it
      expect(seen.dirs.out).toBe(maskedDirs.map((p) => `${p} 0\n`).join(''));
      for (const p of maskedDirs) {
        const m = mountAt(mounts, p);
        expect(m.fstype).toBe('tmpfs');
        expect(m.options).toContain('ro');
      }
      expect(seen.writeDir.out).toContain('Read-only file system');
      for (const p of readonly) {
        const m = mountAt(mounts, p);
        expect(m.fstype).toBe('proc');
        expect(m.options).toContain('ro');
      }
      expect(seen.writeSysctl.rc).not.toBe(0);
      expect(seen.writeSysctl.out).toContain('Read-only file system');
    }

    it('masks files and directories and makes /proc/sys and the like read-only', () => {
      expect(maskedDirs).toContain('/sys/firmware');
      expect(readonly).toContain('/proc/sys');
      expectMaskedAndReadonly(observe(commands));
    });

    // With CAP_SYS_ADMIN and no user namespace the mounts are not locked: the
    // process may undo them with a remount, and runc 1.1.5 lets it just the
    // same. They are still in place when the process starts.
    it('sets them up the same with CAP_SYS_ADMIN, which can remount them as in runc', () => {
      const seen = observe(
        {
          ...commands,
          capEff: 'grep CapEff /proc/self/status',
          remount: 'mount -o remount,rw /proc/sys && echo changed > /proc/sys/kernel/domainname && cat /proc/sys/kernel/domainname',
        },
        {
          mutate: (c) => {
            for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
              c.process.capabilities![set] = [...(c.process.capabilities![set] ?? []), 'CAP_SYS_ADMIN'];
            }
          },
        },
      );
      expect(BigInt(`0x${statusLine(seen.capEff.out, 'CapEff')}`) & (1n << BigInt(CAP.SYS_ADMIN))).not.toBe(0n);
      expectMaskedAndReadonly(seen);
      expect(seen.remount).toEqual({ out: 'changed\n', rc: 0 });
    });
  });

  describe('devices', () => {
    it('has the default devices, the /dev symlinks and the configured linux.devices', () => {
      const seen = observe(
        {
          nodes: 'for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$d; done',
          links: 'for l in ptmx fd stdin stdout stderr; do echo "$l -> $(readlink /dev/$l)"; done',
          fuse: 'stat -c "%F %t:%T %a %u:%g" /dev/fuse2',
          nested: 'stat -c "%F %t:%T %a %u:%g" /dev/extra/null2',
          elsewhere: 'stat -c "%F %t:%T" /opt/null3 && echo x > /opt/null3',
          fifo: 'stat -c "%F %a" /dev/fifo1',
          zero: 'head -c 4 /dev/zero | od -An -tx1',
        },
        {
          mutate: (c) => {
            c.linux.devices = [
              { type: 'c', path: '/dev/fuse2', major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 },
              { type: 'c', path: '/dev/extra/null2', major: 1, minor: 3, fileMode: 0o640, uid: 1000, gid: 1001 },
              // config-linux.md: "full path to device inside container"; a trailing slash is dropped.
              { type: 'c', path: '/opt/null3/', major: 1, minor: 3 },
              // A FIFO's numbers mean nothing: ignored (runc), not refused.
              { type: 'p', path: '/dev/fifo1', major: 7, minor: 7, fileMode: 0o620 },
            ];
          },
        },
      );
      expect(seen.nodes.out).toBe(
        [
          '/dev/null character special file 1:3 666',
          '/dev/zero character special file 1:5 666',
          '/dev/full character special file 1:7 666',
          '/dev/random character special file 1:8 666',
          '/dev/urandom character special file 1:9 666',
          '/dev/tty character special file 5:0 666',
          '',
        ].join('\n'),
      );
      expect(seen.links.out).toBe(
        ['ptmx -> pts/ptmx', 'fd -> /proc/self/fd', 'stdin -> /proc/self/fd/0', 'stdout -> /proc/self/fd/1', 'stderr -> /proc/self/fd/2', ''].join('\n'),
      );
      expect(seen.fuse.out).toBe('character special file a:e5 600 0:0\n'); // 10:229 in hex
      expect(seen.nested.out).toBe('character special file 1:3 640 1000:1001\n');
      expect(seen.elsewhere).toEqual({ out: 'character special file 1:3\n', rc: 0 });
      expect(seen.fifo).toEqual({ out: 'fifo 620\n', rc: 0 });
      expect(seen.zero.out.trim()).toBe('00 00 00 00');
    });
  });

  describe('capabilities', () => {
    const capLines = 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status';
    const caps = (status: string) => Object.fromEntries(['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'].map((k) => [k, statusLine(status, k)]));

    it("has the default config's sets (ambient needs inheritable, so it stays empty)", () => {
      const seen = observe({ caps: capLines });
      const defaults = capMask(['AUDIT_WRITE', 'KILL', 'NET_BIND_SERVICE']);
      expect(caps(seen.caps.out)).toEqual({ CapInh: capMask([]), CapPrm: defaults, CapEff: defaults, CapBnd: defaults, CapAmb: capMask([]) });
    });

    it('has exactly the configured bounding, permitted, effective and inheritable sets', () => {
      // As root, execve would raise permitted to the bounding set; noNewPrivileges
      // keeps it at the configured one, so every set shows as configured.
      const bounding: CapName[] = ['CHOWN', 'KILL', 'SETUID', 'NET_BIND_SERVICE', 'SYS_CHROOT'];
      const permitted: CapName[] = ['KILL', 'NET_BIND_SERVICE', 'SYS_CHROOT'];
      const inheritable: CapName[] = ['SYS_CHROOT'];
      const seen = observe(
        { caps: capLines },
        {
          mutate: (c) => {
            c.process.noNewPrivileges = true;
            c.process.capabilities = {
              bounding: capNames(bounding),
              permitted: capNames(permitted),
              effective: capNames(permitted),
              inheritable: capNames(inheritable),
              ambient: [],
            };
          },
        },
      );
      expect(caps(seen.caps.out)).toEqual({
        CapInh: capMask(inheritable),
        CapPrm: capMask(permitted),
        CapEff: capMask(permitted),
        CapBnd: capMask(bounding),
        CapAmb: capMask([]),
      });
    });

    it('gives a non-root user its ambient capabilities (those also permitted and inheritable)', () => {
      const seen = observe(
        { caps: capLines, id: 'id -u' },
        {
          mutate: (c) => {
            c.process.user = { uid: 1000, gid: 1000 };
            c.process.capabilities = {
              bounding: capNames(['KILL', 'NET_BIND_SERVICE', 'NET_RAW']),
              permitted: capNames(['KILL', 'NET_BIND_SERVICE', 'NET_RAW']),
              effective: capNames(['NET_BIND_SERVICE']),
              inheritable: capNames(['NET_BIND_SERVICE', 'NET_RAW']),
              // KILL is not inheritable: skipped, as runc does.
              ambient: capNames(['NET_BIND_SERVICE', 'NET_RAW', 'KILL']),
            };
          },
        },
      );
      expect(seen.id.out).toBe('1000\n');
      // After execve a non-root process keeps only its ambient set in permitted and effective.
      const ambient = capMask(['NET_BIND_SERVICE', 'NET_RAW']);
      expect(caps(seen.caps.out)).toEqual({
        CapInh: ambient,
        CapPrm: ambient,
        CapEff: ambient,
        CapBnd: capMask(['KILL', 'NET_BIND_SERVICE', 'NET_RAW']),
        CapAmb: ambient,
      });
    });

    it.runIf(hostLacksSysResource)('drops CAP_SYS_RESOURCE, which the host withholds, with a warning (config.md: SHOULD NOT fail)', () => {
      const result = runContainer(capLines, {
        mutate: (c) => {
          c.process.capabilities!.bounding!.push('CAP_SYS_RESOURCE');
          c.process.capabilities!.permitted!.push('CAP_SYS_RESOURCE');
          c.process.capabilities!.effective!.push('CAP_SYS_RESOURCE');
        },
      });
      expect(result.code).toBe(0);
      expect(result.stderr).toBe(
        "ocirun: warning: process.capabilities: ignoring CAP_SYS_RESOURCE (not in ocirun's own bounding set): they cannot be granted\n",
      );
      expect((BigInt(`0x${statusLine(result.stdout, 'CapBnd')}`) >> BigInt(CAP.SYS_RESOURCE)) & 1n).toBe(0n);
    });
  });

  describe('rlimits', () => {
    const hostLimits = readHost('/proc/self/limits');

    it('has the configured soft and hard limits', () => {
      const [, hostNproc] = limitOf(hostLimits, 'Max processes');
      const nprocHard = hostNproc === 'unlimited' ? 4096 : Math.min(Number(hostNproc), 4096);
      const nprocSoft = Math.floor(nprocHard / 2);
      const seen = observe(
        { limits: 'cat /proc/self/limits' },
        {
          mutate: (c) => {
            c.process.rlimits = [
              { type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 },
              { type: 'RLIMIT_NPROC', soft: nprocSoft, hard: nprocHard },
            ];
          },
        },
      );
      expect(limitOf(seen.limits.out, 'Max open files')).toEqual(['512', '1024']);
      expect(limitOf(seen.limits.out, 'Max processes')).toEqual([String(nprocSoft), String(nprocHard)]);
    });

    it('refuses to raise a hard limit, naming the rlimit and CAP_SYS_RESOURCE', () => {
      const hard = Number(limitOf(hostLimits, 'Max open files')[1]) + 1;
      const result = runContainer('echo should not run', {
        mutate: (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard }]),
      });
      expectCleanFailure(result, 'RLIMIT_NOFILE', 'CAP_SYS_RESOURCE');
    });
  });

  describe('user', () => {
    it('runs as the configured uid, gid and additional groups, with its umask and HOME from /etc/passwd', () => {
      const seen = observe(
        { id: 'id', umask: 'umask', created: 'touch /dev/shm/f && stat -c %a /dev/shm/f', home: 'echo "$HOME"' },
        {
          mutate: (c) => {
            c.process.user = { uid: 1000, gid: 1000, additionalGids: [1001], umask: 0o027 };
            c.process.env = c.process.env.filter((e) => !e.startsWith('HOME='));
          },
        },
      );
      // The groups are exactly additionalGids, as with runc (the primary gid is not repeated).
      expect(seen.id.out).toBe('uid=1000(user) gid=1000(user) groups=1001(extra)\n');
      expect(seen.umask.out).toBe('0027\n');
      expect(seen.created.out).toBe('640\n');
      expect(seen.home.out).toBe('/home/user\n');
    });

    it('runs as root with umask 0022 and HOME=/root by default, and HOME=/ for a uid without a passwd entry', () => {
      const root = observe({ id: 'id', umask: 'umask', home: 'echo "$HOME"' });
      expect(root.id.out).toBe('uid=0(root) gid=0(root)\n');
      expect(root.umask.out).toBe('0022\n');
      expect(root.home.out).toBe('/root\n');

      const unknown = observe({ id: 'id', home: 'echo "$HOME"' }, { mutate: (c) => (c.process.user = { uid: 4242, gid: 4242 }) });
      expect(unknown.id.out).toBe('uid=4242 gid=4242\n');
      expect(unknown.home.out).toBe('/\n');
    });
  });

  describe('process settings', () => {
    const ownAdj = Number(readHost('/proc/self/oom_score_adj'));

    it('has the configured oom_score_adj', () => {
      // Lowering it below the runtime's own value needs CAP_SYS_RESOURCE.
      const adj = Math.max(500, ownAdj);
      const seen = observe({ adj: 'cat /proc/self/oom_score_adj' }, { mutate: (c) => (c.process.oomScoreAdj = adj) });
      expect(seen.adj.out).toBe(`${adj}\n`);
    });

    it.runIf(hostLacksSysResource && ownAdj > -1000)("refuses to lower oom_score_adj below the runtime's, naming CAP_SYS_RESOURCE", () => {
      const result = runContainer('echo should not run', { mutate: (c) => (c.process.oomScoreAdj = Math.max(ownAdj - 100, -1000)) });
      expectCleanFailure(result, 'oom_score_adj', 'CAP_SYS_RESOURCE');
    });

    it('gets exactly the configured environment, plus HOME when it lacks one', () => {
      const env = ['PATH=/bin', 'A=1', 'B=two words', 'EMPTY=', 'HOME=/somewhere'];
      const exact = runContainer(['env'], { mutate: (c) => (c.process.env = env) });
      expect(exact).toEqual({ code: 0, stdout: env.map((e) => `${e}\n`).join(''), stderr: '' });

      const withoutHome = runContainer(['env'], { mutate: (c) => (c.process.env = env.slice(0, 4)) });
      expect(withoutHome.stdout).toBe([...env.slice(0, 4), 'HOME=/root'].map((e) => `${e}\n`).join(''));
    });

    it('starts in the configured cwd', () => {
      const seen = observe({ pwd: 'pwd' }, { mutate: (c) => (c.process.cwd = '/tmp') });
      expect(seen.pwd.out).toBe('/tmp\n');
    });

    it('creates a missing cwd inside the rootfs, as runc does, even with a read-only root', () => {
      const cwd = `/does/not/exist-${randomName()}`;
      let created: fs.Stats | undefined;
      const seen = observe(
        { pwd: 'pwd' },
        {
          mutate: (c) => (c.process.cwd = cwd),
          inspect: (b) => (created = fs.statSync(path.join(b.rootfs, cwd), { throwIfNoEntry: false })),
        },
      );
      expect(seen.pwd.out).toBe(`${cwd}\n`);
      expect(created?.isDirectory()).toBe(true);
      expect(created!.mode & 0o777).toBe(0o755);
      expect(fs.existsSync(cwd)).toBe(false);
    });

    it.each([
      [true, '1'],
      [false, '0'],
    ])('noNewPrivileges %s shows as NoNewPrivs %s', (noNewPrivileges, expected) => {
      const seen = observe({ status: 'cat /proc/self/status' }, { mutate: (c) => (c.process.noNewPrivileges = noNewPrivileges) });
      expect(statusLine(seen.status.out, 'NoNewPrivs')).toBe(expected);
    });
  });

  describe('sysctl', () => {
    it("sets sysctls in the container's own network and IPC namespaces, not the host's", () => {
      const hostForward = readHost('/proc/sys/net/ipv4/ip_forward');
      const hostMsgmax = readHost('/proc/sys/kernel/msgmax');
      const forward = hostForward === '1' ? '0' : '1';
      const msgmax = String(Number(hostMsgmax) === 4242 ? 4343 : 4242);
      const seen = observe(
        { forward: 'cat /proc/sys/net/ipv4/ip_forward', msgmax: 'cat /proc/sys/kernel/msgmax' },
        { mutate: (c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': forward, 'kernel.msgmax': msgmax }) },
      );
      expect(seen.forward.out).toBe(`${forward}\n`);
      expect(seen.msgmax.out).toBe(`${msgmax}\n`);
      expect(readHost('/proc/sys/net/ipv4/ip_forward')).toBe(hostForward);
      expect(readHost('/proc/sys/kernel/msgmax')).toBe(hostMsgmax);
    });
  });

  describe('exit status, stdin and startup errors', () => {
    it("exits with the process's exit status", () => {
      expect(runContainer('echo bye; exit 3')).toEqual({ code: 3, stdout: 'bye\n', stderr: '' });
    });

    it('passes its stdin to the process', () => {
      const input = rt.scratchPath(`stdin-${randomName()}`);
      fs.writeFileSync(input, 'first line\nsecond line\n');
      try {
        expect(runContainer(['cat'], { stdin: input })).toEqual({ code: 0, stdout: 'first line\nsecond line\n', stderr: '' });
      } finally {
        fs.rmSync(input, { force: true });
      }
    });

    it('fails cleanly, naming it, when the executable does not exist', () => {
      const result = runContainer(['no-such-command-xyz']);
      expectCleanFailure(result, 'executable file not found', 'no-such-command-xyz');
    });
  });

  describe('symlinks in the rootfs', () => {
    it('keeps mount destinations that go through a symlink inside the rootfs', () => {
      const name = `ocirun-escape-${randomName()}`;
      let hostPaths: string[] = [];
      let insideRootfs: boolean[] = [];
      const seen = observe(
        {
          mounts: `grep -E " /${name}-(abs|rel) " /proc/self/mountinfo | cut -d" " -f5,9`,
          write: `touch /${name}-abs/f /${name}-rel/f`,
        },
        {
          prepare: (b) => {
            fs.symlinkSync('/', path.join(b.rootfs, 'evil'));
            fs.mkdirSync(path.join(b.rootfs, 'sub'));
            fs.symlinkSync('../../..', path.join(b.rootfs, 'sub', 'evil'));
            // Where the symlinks would lead if followed on the host.
            hostPaths = [path.join('/', `${name}-abs`), path.resolve(b.rootfs, 'sub', '../../..', `${name}-rel`)];
            b.config.mounts.push(
              { destination: `/evil/${name}-abs`, type: 'tmpfs', source: 'tmpfs' },
              { destination: `/sub/evil/${name}-rel`, type: 'tmpfs', source: 'tmpfs' },
            );
          },
          inspect: (b) => {
            insideRootfs = ['abs', 'rel'].map((s) => fs.statSync(path.join(b.rootfs, `${name}-${s}`), { throwIfNoEntry: false })?.isDirectory() ?? false);
            expect(hostPaths.filter((p) => fs.existsSync(p))).toEqual([]);
          },
        },
      );
      expect(seen.mounts.out).toBe(`/${name}-abs tmpfs\n/${name}-rel tmpfs\n`);
      expect(seen.write).toEqual({ out: '', rc: 0 });
      expect(insideRootfs).toEqual([true, true]);
      expect(hostPaths.filter((p) => fs.existsSync(p))).toEqual([]);
    });
  });
});
