// linux.uidMappings/gidMappings with a joined user namespace: they must be
// that namespace's own maps (which cannot be written again); a mismatch is
// one clear line at create, leaving nothing behind, as runc refuses it.
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, isRoot, refusedCreate, uniqueId, type Bundle, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => {
  const left = rt.containerIds();
  rt.dispose();
  expect(left, 'containers left behind').toEqual([]);
});

const UID_MAPS = [
  { containerID: 0, hostID: 231072, size: 1000 },
  { containerID: 1000, hostID: 300000, size: 10 },
];
const GID_MAPS = [{ containerID: 0, hostID: 231072, size: 2000 }];

/** In a new user namespace with the maps above; sysfs and cgroupfs as a user-namespaced root may have them. */
function userNamespaced(c: BundleConfig): void {
  c.linux.namespaces.push({ type: 'user' });
  c.linux.uidMappings = UID_MAPS;
  c.linux.gidMappings = GID_MAPS;
  c.mounts = c.mounts.map((m: { destination: string }) =>
    m.destination === '/sys' ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] } : m,
  );
  c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/sys/fs/cgroup');
}

function bundle(args: string[], mutate: (c: BundleConfig) => void): Bundle {
  return rt.bundle(args, mutate);
}

describe.skipIf(!isRoot)('id maps with a joined user namespace', () => {
  const holderId = uniqueId('userns-holder');
  let holderPid = 0;
  const joining = (uid: typeof UID_MAPS, gid: typeof GID_MAPS) => (c: BundleConfig) => {
    userNamespaced(c);
    c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === 'user' ? { type: 'user', path: `/proc/${holderPid}/ns/user` } : n));
    c.linux.uidMappings = uid;
    c.linux.gidMappings = gid;
  };

  it('joins with the same maps, in any order', () => {
    rt.ok(['run', '-d', '--bundle', bundle(['sleep', '1000'], userNamespaced).dir, holderId]);
    holderPid = rt.state(holderId).pid;
    const r = rt.run(['run', '--bundle', bundle(['cat', '/proc/self/uid_map'], joining([...UID_MAPS].reverse(), GID_MAPS)).dir, uniqueId('userns-join')]);
    expect(r.code, r.stderr).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' ')),
    ).toEqual(['0 231072 1000', '1000 300000 10']);
  });

  it('refuses other maps, naming the field', () => {
    const uidErr = refusedCreate(rt, bundle(['true'], joining([{ containerID: 0, hostID: 100000, size: 1000 }], GID_MAPS)));
    expect(uidErr).toContain(
      `linux.uidMappings 0 100000 1000 do not match the joined user namespace /proc/${holderPid}/ns/user, whose uid_map is 0 231072 1000, 1000 300000 10`,
    );
    const gidErr = refusedCreate(rt, bundle(['true'], joining(UID_MAPS, [{ containerID: 0, hostID: 231072, size: 1000 }])));
    expect(gidErr).toContain('linux.gidMappings 0 231072 1000 do not match the joined user namespace');
  });

  afterAll(() => {
    rt.run(['delete', '-f', holderId]);
  });
});
