// Id-mapped bind mounts (config.md "Mounts": uidMappings/gidMappings, the
// idmap and ridmap options): what the container sees through them, what the
// host finds of what it writes, and the refusals, which leave nothing behind.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, hostMountsMentioning, isRoot, processesMentioning, refusedCreate, runInContainer, uniqueId, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => {
  const left = rt.containerIds();
  rt.dispose();
  expect(left, 'containers left behind').toEqual([]);
});

const range = (containerID: number, hostID: number, size: number) => [{ containerID, hostID, size }];
const POD_MAP = range(0, 100000, 65536);

/**
 * A host directory for a volume, owned by `uid`:`gid` like the file `foo` in
 * it. The kernel refuses writes to an inode whose owner the mount does not
 * map (inode_permission(), HAS_UNMAPPED_ID): the directory's must be mapped.
 */
function volume(name: string, uid: number, gid: number): string {
  const dir = rt.scratchPath(`${name}-${uniqueId()}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'foo'), '');
  for (const p of [dir, path.join(dir, 'foo')]) chownSync(p, uid, gid);
  return dir;
}

function withUserNamespace(c: BundleConfig): void {
  c.linux.namespaces.push({ type: 'user' });
  c.linux.uidMappings = POD_MAP;
  c.linux.gidMappings = POD_MAP;
}

function cgroupDirsNamed(name: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((controller) => path.join('/sys/fs/cgroup', controller, name))
    .filter((dir) => existsSync(dir));
}

/** Mounts `fstype` at a new directory for the test, unmounted when `use` returns. */
function withHostMount<T>(fstype: string, at: string, use: () => T): T {
  mkdirSync(at, { recursive: true });
  execFileSync('mount', ['-t', fstype, fstype, at]);
  try {
    return use();
  } finally {
    execFileSync('umount', [at]);
  }
}

describe.skipIf(!isRoot)('id-mapped mounts', () => {
  it("show the source's ids mapped, and store the container's unmapped (no user namespace)", () => {
    const dir = volume('plain', 1001, 1002);
    chmodSync(dir, 0o777);
    const r = runInContainer(rt, 'stat -c %u:%g /data/foo && touch /data/made && stat -c %u:%g /data/made', (c) => {
      c.process.user = { uid: 2005, gid: 2007 };
      c.mounts.push({
        destination: '/data',
        type: 'bind',
        source: dir,
        options: ['bind', 'idmap'],
        uidMappings: range(1000, 2000, 10),
        gidMappings: range(1000, 2000, 10),
      });
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['2001:2002', '2005:2007']);
    // What uid 2005 wrote through the mount belongs to the source's 1005 on the host.
    const made = statSync(path.join(dir, 'made'));
    expect([made.uid, made.gid]).toEqual([1005, 1007]);
  });

  it("map the host's root to the container's, as Kubernetes pods without host users get their volumes", () => {
    const dir = volume('pod', 0, 0);
    // Destinations the image has: the container's root may not create any in a root directory the host's root owns.
    const r = runInContainer(rt, 'stat -c %u:%g /tmp/foo /run/foo /var/foo && touch /tmp/made && stat -c %u:%g /tmp/made', (c) => {
      withUserNamespace(c);
      c.mounts.push(
        { destination: '/tmp', type: 'bind', source: dir, options: ['rbind', 'idmap'] },
        { destination: '/run', type: 'bind', source: dir, options: ['rbind'], uidMappings: POD_MAP, gidMappings: POD_MAP },
        { destination: '/var', type: 'bind', source: dir, options: ['rbind'] },
      );
    });
    expect(r.code, r.stderr).toBe(0);
    // idmap without mappings takes the container's; a plain bind shows root as the overflow id.
    expect(r.stdout.trim().split('\n')).toEqual(['0:0', '0:0', '65534:65534', '0:0']);
    const made = statSync(path.join(dir, 'made'));
    expect([made.uid, made.gid]).toEqual([0, 0]);
  });

  it("idmap without mappings takes a joined user namespace's maps", () => {
    const holder = uniqueId('userns');
    rt.ok(['run', '-d', '--bundle', rt.bundle(['sleep', '60'], withUserNamespace).dir, holder]);
    try {
      const dir = volume('joined', 0, 0);
      const r = runInContainer(rt, 'stat -c %u:%g /tmp/foo && cat /proc/self/uid_map', (c) => {
        c.linux.namespaces.push({ type: 'user', path: `/proc/${rt.state(holder).pid}/ns/user` });
        c.mounts.push({ destination: '/tmp', type: 'bind', source: dir, options: ['rbind', 'idmap'] });
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split(/\s+/)).toEqual(['0:0', '0', '100000', '65536']);
    } finally {
      rt.ok(['delete', '--force', holder]);
    }
  });

  it('ridmap maps the mounts below the source too; idmap only the source', () => {
    const dir = volume('tree', 1, 1);
    withHostMount('tmpfs', path.join(dir, 'sub'), () => {
      writeFileSync(path.join(dir, 'sub', 'bar'), '');
      chownSync(path.join(dir, 'sub', 'bar'), 3, 3);
      const r = runInContainer(rt, 'stat -c %u /r/foo /r/sub/bar /i/foo /i/sub/bar', (c) => {
        c.mounts.push(
          { destination: '/r', type: 'bind', source: dir, options: ['rbind', 'ridmap'], uidMappings: range(0, 5000, 100), gidMappings: range(0, 5000, 100) },
          { destination: '/i', type: 'bind', source: dir, options: ['rbind', 'idmap'], uidMappings: range(0, 5000, 100), gidMappings: range(0, 5000, 100) },
        );
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(['5001', '5003', '5001', '3']);
    });
  });

  it('leave no process behind: the holders of the user namespaces are gone once create returns', () => {
    const id = uniqueId('idmap');
    const dir = volume('procs', 0, 0);
    const b = rt.bundle(['sleep', '30'], (c) => {
      for (const [i, hostID] of [100000, 200000, 100000].entries()) {
        c.mounts.push({
          destination: `/v${i}`,
          type: 'bind',
          source: dir,
          options: ['bind'],
          uidMappings: range(0, hostID, 10),
          gidMappings: range(0, hostID, 10),
        });
      }
    });
    rt.ok(['create', '--bundle', b.dir, id]);
    try {
      expect(processesMentioning(id)).toEqual([rt.state(id).pid]);
    } finally {
      rt.ok(['delete', '--force', id]);
    }
  });

  it('a source on a filesystem without id-mapped mounts is refused, naming the mount, and leaves nothing', () => {
    const id = uniqueId('idmapfs');
    const dir = rt.scratchPath(`ramfs-${id}`);
    withHostMount('ramfs', dir, () => {
      const b = rt.bundle(['true'], (c) => {
        c.linux.cgroupsPath = `/ocirun-test-${id}`;
        c.mounts.push({ destination: '/ram', type: 'bind', source: dir, options: ['rbind', 'idmap'], uidMappings: POD_MAP, gidMappings: POD_MAP });
      });
      const index = b.config.mounts.length - 1;
      const r = rt.run(['create', '--bundle', b.dir, id]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`mount /ram (bind from ${dir}): mounts[${index}]: its source is on a filesystem that does not support id-mapped mounts`);
      expect(rt.containerIds()).toEqual([]);
      expect(processesMentioning(id)).toEqual([]);
      expect(cgroupDirsNamed(`ocirun-test-${id}`)).toEqual([]);
      expect(hostMountsMentioning(b.dir)).toEqual([]);
    });
  });

  it('refuses mappings the kernel would not take, and idmap where it cannot apply, naming the field', () => {
    const refused = (mount: Record<string, unknown>, mutate?: (c: BundleConfig) => void) => {
      const b = rt.bundle(['true'], (c) => {
        c.mounts.push({ destination: '/data', type: 'bind', source: '/tmp', options: ['bind'], ...mount });
        mutate?.(c);
      });
      return refusedCreate(rt, b).replace(/\/mounts\/\d+/, '/mounts/N');
    };
    expect(refused({ gidMappings: POD_MAP })).toMatch(
      /\/mounts\/N: must have property uidMappings when property gidMappings is present|\/mounts\/N\/uidMappings: is required when "gidMappings" is set/,
    );
    expect(refused({ uidMappings: [...range(0, 1000, 10), ...range(5, 3000, 10)], gidMappings: POD_MAP })).toMatch(
      /\/mounts\/N\/uidMappings\/1: its containerID range 5-14 overlaps \/mounts\/\d+\/uidMappings\/0 \(0-9\)/,
    );
    expect(refused({ uidMappings: POD_MAP, gidMappings: [...range(0, 1000, 10), ...range(100, 1005, 1)] })).toMatch(
      /\/mounts\/N\/gidMappings\/1: its hostID range 1005-1005 overlaps/,
    );
    expect(refused({ options: ['bind', 'idmap'] })).toMatch(
      /\/mounts\/N\/options: idmap without uidMappings and gidMappings uses the container's user namespace, and the container has none/,
    );
    expect(refused({ type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }, withUserNamespace)).toMatch(
      /\/mounts\/N\/options: id-mapped mounts are bind mounts only/,
    );
  });

  it('features says so', () => {
    const f = JSON.parse(rt.ok(['features']).stdout);
    expect(f.linux.mountExtensions.idmap.enabled).toBe(true);
    expect(f.mountOptions).toEqual(expect.arrayContaining(['idmap', 'ridmap']));
  });
});
