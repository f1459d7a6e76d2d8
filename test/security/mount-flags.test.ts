// Mount flags hold on the mount they were asked for. A read-only bind of a
// volume that another container shares must not turn writable because that
// container swaps a directory for a symlink while this one is created
// (CVE-2021-30465: the flags were applied through a second lookup of the
// path). And nosuid, nodev, noexec and ro are in force inside the container,
// on binds, on their submounts with the recursive options, and on tmpfs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeLeavingNoContainer, isRoot, parseMountinfo, uniqueId, type BundleConfig } from '../helpers/ocirun.js';
import type { IdMapping } from '../../src/spec/types.js';

const require = createRequire(import.meta.url);
const rt = runtimeLeavingNoContainer();

/**
 * Swaps each directory with a symlink next to it, atomically (renameat2(2)
 * RENAME_EXCHANGE) and as fast as it can, until `seconds` have passed: a
 * process of another container that shares the volume.
 */
function startSwapper(pairs: [string, string][], seconds: number): ChildProcess {
  const code = `
    const [koffiPath, seconds, ...paths] = process.argv.slice(1);
    const koffi = require(koffiPath);
    const renameat2 = koffi.load('libc.so.6').func('int renameat2(int, const char *, int, const char *, unsigned int)');
    const end = Date.now() + Number(seconds) * 1000;
    while (Date.now() < end) {
      for (let i = 0; i < 1000; i++) {
        for (let p = 0; p < paths.length; p += 2) renameat2(-100, paths[p], -100, paths[p + 1], 2 /* RENAME_EXCHANGE */);
      }
    }`;
  return spawn(process.execPath, ['-e', code, require.resolve('koffi'), String(seconds), ...pairs.flat()], { stdio: 'ignore' });
}

describe.skipIf(!isRoot)('read-only binds into a volume that another container swaps under them', () => {
  it('are read-only wherever they land, and no other mount takes their flags', () => {
    // The shared volume, mounted read-write at /vol, with a tmpfs at each
    // /vol/decoyN and a read-only bind of `source` at each /vol/subN. The
    // swapper turns each subN into a symlink to its decoyN, a mount root: a
    // runtime that looks the destination up again to make the bind read-only
    // can land on the decoy and leave the bind writable.
    const BINDS = 6;
    const volume = rt.scratchPath(`volume-${uniqueId()}`);
    const source = rt.scratchPath(`ro-source-${uniqueId()}`);
    mkdirSync(source);
    writeFileSync(path.join(source, 'marker'), 'read-only\n');
    const pairs: [string, string][] = [];
    const b = rt.bundle(['sleep', '100'], (c) => {
      c.root.readonly = false;
      c.mounts.push({ destination: '/vol', type: 'bind', source: volume, options: ['rbind', 'rw'] });
      for (let n = 0; n < BINDS; n++) {
        mkdirSync(path.join(volume, `sub${n}`), { recursive: true });
        symlinkSync(`/vol/decoy${n}`, path.join(volume, `sub${n}.link`));
        pairs.push([path.join(volume, `sub${n}`), path.join(volume, `sub${n}.link`)]);
        c.mounts.push(
          { destination: `/vol/decoy${n}`, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
          { destination: `/vol/sub${n}`, type: 'bind', source, options: ['bind', 'ro'] },
        );
      }
    });

    const swapper = startSwapper(pairs, 30);
    let created = 0;
    let failed = 0;
    const deadline = Date.now() + 20_000;
    try {
      for (let i = 0; i < 30 && Date.now() < deadline; i++) {
        const id = uniqueId('race');
        const r = rt.run(['create', '--bundle', b.dir, id]);
        if (r.code !== 0) {
          // Creating may fail while the volume changes under it; it must not succeed wrongly.
          failed++;
          expect(rt.containerIds()).not.toContain(id);
          continue;
        }
        created++;
        try {
          const mounts = parseMountinfo(readFileSync(`/proc/${rt.state(id).pid}/mountinfo`, 'utf8'));
          const binds = mounts.filter((m) => m.root.endsWith(`/${path.basename(source)}`));
          expect(binds.length).toBe(BINDS);
          for (const m of binds) expect(m.options, `the bind at ${m.mountPoint}`).toContain('ro');
          const others = mounts.filter((m) => m.mountPoint === '/' || (m.mountPoint.startsWith('/vol') && !binds.includes(m)));
          expect(others.length).toBe(2 + BINDS);
          for (const m of others) expect(m.options, `${m.mountPoint}`).toContain('rw');
        } finally {
          rt.ok(['delete', '--force', id]);
        }
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    expect(created, `${created} created, ${failed} failed`).toBeGreaterThan(0);
  });
});

describe.skipIf(!isRoot)('a cgroup mount into a volume that another container swaps under it', () => {
  it('lands whole where its destination was resolved: every hierarchy on the one tmpfs', () => {
    const volume = rt.scratchPath(`cg-volume-${uniqueId()}`);
    mkdirSync(path.join(volume, 'cg'), { recursive: true });
    mkdirSync(path.join(volume, 'decoy'));
    symlinkSync('/vol/decoy', path.join(volume, 'cg.link'));
    const b = rt.bundle(['sleep', '100'], (c) => {
      c.root.readonly = false;
      c.mounts.push(
        { destination: '/vol', type: 'bind', source: volume, options: ['rbind', 'rw'] },
        { destination: '/vol/cg', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      );
    });
    const swapper = startSwapper([[path.join(volume, 'cg'), path.join(volume, 'cg.link')]], 30);
    let created = 0;
    const deadline = Date.now() + 15_000;
    try {
      for (let i = 0; i < 15 && Date.now() < deadline; i++) {
        const id = uniqueId('cg-race');
        const r = rt.run(['create', '--bundle', b.dir, id]);
        if (r.code !== 0) {
          expect(rt.containerIds()).not.toContain(id);
          continue;
        }
        created++;
        try {
          // Mounts by id and parent id: the swapper renames the directories, and so the paths, while this reads.
          const text = readFileSync(`/proc/${rt.state(id).pid}/mountinfo`, 'utf8').trim();
          const mounts = parseMountinfo(text).map((m, n) => {
            const [mountId, parentId] = text.split('\n')[n].split(' ');
            return { ...m, mountId, parentId };
          });
          // The fixture's own cgroup mount at /sys/fs/cgroup aside.
          const hierarchies = mounts.filter((m) => (m.fstype === 'cgroup' || m.fstype === 'cgroup2') && m.mountPoint.startsWith('/vol/'));
          expect(hierarchies.length).toBeGreaterThan(0);
          const parents = [...new Set(hierarchies.map((m) => m.parentId))];
          expect(parents, 'the mounts holding the hierarchies').toHaveLength(1);
          const tmpfs = mounts.find((m) => m.mountId === parents[0]);
          expect(tmpfs?.fstype, `the mount holding them, ${tmpfs?.mountPoint}`).toBe('tmpfs');
          expect(tmpfs?.options).toContain('ro');
        } finally {
          rt.ok(['delete', '--force', id]);
        }
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    expect(created).toBeGreaterThan(0);
  });
});

describe.skipIf(!isRoot)('flags in force inside the container', () => {
  const ALL = ['ro', 'nosuid', 'nodev', 'noexec'];

  it('on a bind, on the submounts of an rbind with rro, rnosuid, rnodev and rnoexec, and on a tmpfs', () => {
    // A host directory with a mount below it, which an rbind takes along.
    const volume = rt.scratchPath(`flags-${uniqueId()}`);
    const inner = path.join(volume, 'inner');
    mkdirSync(inner, { recursive: true });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', inner]);
    expect(mounted.status, String(mounted.stderr)).toBe(0);
    try {
      const dirs = ['/bind', '/rbind-ro', '/rbind-ro/inner', '/rbind-rro', '/rbind-rro/inner', '/tmp'];
      const atimeDirs = ['/rbind-noatime/inner', '/rbind-norelatime/inner'];
      const b = rt.bundle(
        ['sh', '-c', ['cat /proc/self/mountinfo', ...dirs.map((d) => `touch ${d}/new 2>/dev/null && echo "written: ${d}"`), 'true'].join('; ')],
        (c) => {
          c.root.readonly = false;
          c.mounts.push(
            { destination: '/bind', type: 'bind', source: volume, options: ['bind', ...ALL] },
            { destination: '/rbind-ro', type: 'bind', source: volume, options: ['rbind', 'ro'] },
            { destination: '/rbind-rro', type: 'bind', source: volume, options: ['rbind', 'rro', 'rnosuid', 'rnodev', 'rnoexec'] },
            { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: [...ALL, 'size=1m'] },
            { destination: '/rbind-noatime', type: 'bind', source: volume, options: ['rbind', 'rnoatime'] },
            { destination: '/rbind-norelatime', type: 'bind', source: volume, options: ['rbind', 'rnoatime', 'rnorelatime'] },
          );
        },
      );
      const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const mounts = parseMountinfo(
        r.stdout
          .split('\n')
          .filter((l) => /^\d+ /.test(l))
          .join('\n'),
      );
      const at = (dir: string) => mounts.filter((m) => m.mountPoint === dir).pop()?.options ?? [];
      for (const dir of ['/bind', '/rbind-rro', '/rbind-rro/inner', '/tmp']) expect(at(dir), dir).toEqual(expect.arrayContaining(ALL));
      // "ro" on an rbind is for its top mount only, as in runc.
      expect(at('/rbind-ro')).toContain('ro');
      expect(at('/rbind-ro/inner')).toContain('rw');
      expect(r.stdout.split('\n').filter((l) => l.startsWith('written:'))).toEqual(['written: /rbind-ro/inner']);
      // The last atime word wins, on the submounts too.
      expect(at(atimeDirs[0])).toContain('noatime');
      expect(at(atimeDirs[1])).toContain('relatime');
      expect(at(atimeDirs[1])).not.toContain('noatime');
    } finally {
      spawnSync('umount', ['-l', inner]);
    }
  });
});

// With a user namespace of its own, or one it joins (the pods of Kubernetes
// that share one, podman --userns=ns:PATH), the container's root holds
// CAP_SYS_ADMIN over its mount namespace: what keeps it from remounting a bind
// with fewer flags, or unmounting a submount of one, is the lock the kernel
// puts on mounts copied from a more privileged namespace (mount_namespaces(7)).
describe.skipIf(!isRoot)('binds in a container with a user namespace, whose root has CAP_SYS_ADMIN', () => {
  const ownUserNamespace = (map: IdMapping[]) => (c: BundleConfig) => {
    c.linux.namespaces.push({ type: 'user' });
    c.linux.uidMappings = map;
    c.linux.gidMappings = map;
  };
  const IDENTITY = [{ containerID: 0, hostID: 0, size: 65536 }];

  /**
   * Runs each attack in a container whose root has CAP_SYS_ADMIN in the user
   * namespace that `userNamespace` gives it, expects every one refused, and
   * returns what the commands of `report` printed, its lines sorted.
   */
  function attack(attacks: string[], report: string[], userNamespace: (c: BundleConfig) => void, mounts: BundleConfig['mounts']) {
    const b = rt.bundle(['sh', '-c', [...attacks.map((a) => `( ${a} ) 2>/dev/null && echo "ALLOWED: ${a}"`), ...report].join('; ')], (c) => {
      c.root.readonly = false;
      userNamespace(c);
      for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_ADMIN');
      c.mounts.push(...mounts);
    });
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/ALLOWED/);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  /** A container holding a user namespace of its own with `map`, for `use` to join: a pod's sandbox. */
  function withUserNamespaceHolder(map: IdMapping[], use: (joined: (c: BundleConfig) => void) => void): void {
    const holder = uniqueId('userns-holder');
    rt.ok(['run', '-d', '--bundle', rt.bundle(['sleep', '100'], ownUserNamespace(map)).dir, holder]);
    try {
      const nsPath = `/proc/${rt.state(holder).pid}/ns/user`;
      use((c) => c.linux.namespaces.push({ type: 'user', path: nsPath }));
    } finally {
      rt.ok(['delete', '--force', holder]);
    }
  }

  /** The attacks on plain binds, read-only and nosuid, nodev, noexec by the config's or by the host's choice, and on an rbind's submount. */
  function bindsKeepTheirLocks(userNamespace: (c: BundleConfig) => void): void {
    const host = rt.scratchPath(`locked-${uniqueId()}`);
    const [dir, readOnly, volume] = ['dir', 'read-only', 'volume'].map((d) => path.join(host, d));
    const covered = path.join(volume, 'covered');
    for (const d of [dir, readOnly, covered]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(covered, 'hidden'), 'under the mount\n');
    // A host mount read-only and nosuid by the host's choice, and one that covers a file.
    const setup = [
      ['mount', '--bind', dir, readOnly],
      ['mount', '-o', 'remount,bind,ro,nosuid,nodev', readOnly],
      ['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', covered],
    ];
    try {
      for (const args of setup) expect(spawnSync(args[0], args.slice(1)).status, args.join(' ')).toBe(0);
      const attacks = [
        'mount -o remount,rw,bind /ro',
        'mount -o remount,rw,bind /host-ro',
        'mount -o remount,bind,suid,dev /host-ro',
        'mount -o remount,bind,suid,nodev,noexec /no-suid-dev-exec',
        'mount -o remount,bind,nosuid,dev,noexec /no-suid-dev-exec',
        'mount -o remount,bind,nosuid,nodev,exec /no-suid-dev-exec',
        'touch /ro/x',
        'touch /host-ro/x',
        'umount /volume/covered',
        'umount -l /volume/covered',
        'cat /volume/covered/hidden',
      ];
      const report = attack(attacks, ['grep -E " /(ro|host-ro|no-suid-dev-exec|volume/covered) " /proc/self/mountinfo | cut -d" " -f5,6'], userNamespace, [
        { destination: '/ro', type: 'bind', source: dir, options: ['bind', 'ro'] },
        { destination: '/host-ro', type: 'bind', source: readOnly, options: ['bind'] },
        { destination: '/no-suid-dev-exec', type: 'bind', source: dir, options: ['bind', 'nosuid', 'nodev', 'noexec'] },
        { destination: '/volume', type: 'bind', source: volume, options: ['rbind'] },
      ]);
      expect(report).toEqual([
        '/host-ro ro,nosuid,nodev,relatime',
        '/no-suid-dev-exec rw,nosuid,nodev,noexec,relatime',
        '/ro ro,relatime',
        '/volume/covered rw,relatime',
      ]);
      expect(readdirSync(dir), 'what the container wrote on the host').toEqual([]);
    } finally {
      for (const target of [covered, readOnly]) spawnSync('umount', ['-l', target]);
    }
  }

  it('keep their flags and submounts against remount and umount, in a user namespace of their own', () => {
    bindsKeepTheirLocks(ownUserNamespace(IDENTITY));
  });

  it('keep their flags and submounts against remount and umount, in a joined user namespace', () => {
    withUserNamespaceHolder(IDENTITY, (joined) => bindsKeepTheirLocks(joined));
  });

  it('an id-mapped volume keeps its mapping and its locks, as a Kubernetes pod without host users gets it', () => {
    const volume = rt.scratchPath(`idmapped-${uniqueId()}`);
    const covered = path.join(volume, 'covered');
    mkdirSync(covered, { recursive: true });
    writeFileSync(path.join(covered, 'hidden'), 'under the mount\n');
    try {
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', covered]).status).toBe(0);
      const attacks = [
        'mount -o remount,rw,bind /tmp',
        'mount -o remount,bind,suid,exec /tmp',
        'touch /tmp/x',
        'umount /tmp/covered',
        'umount -l /tmp/covered',
        'cat /tmp/covered/hidden',
      ];
      const commands = ['stat -c "owner %u:%g" /tmp', 'grep -E " /tmp(/covered)? " /proc/self/mountinfo | cut -d" " -f5,6'];
      // A destination the image has: the container's root may not make one in a root the host's root owns.
      const report = attack(attacks, commands, ownUserNamespace([{ containerID: 0, hostID: 100000, size: 65536 }]), [
        { destination: '/tmp', type: 'bind', source: volume, options: ['rbind', 'ro', 'nosuid', 'noexec', 'ridmap'] },
      ]);
      // What the host's root owns is the container's root's, through the container's own maps.
      expect(report).toEqual(['/tmp ro,nosuid,noexec,relatime,idmapped', '/tmp/covered rw,relatime,idmapped', 'owner 0:0']);
    } finally {
      spawnSync('umount', ['-l', covered]);
    }
  });
});
