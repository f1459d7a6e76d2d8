// The mounts of config.mounts in /proc/self/mountinfo in their order
// (runtime-spec config.md: "The runtime MUST mount entries in the listed
// order"), which Linux 6.8 and later list in the order the kernel made them:
// also when the runtime opened the bind sources before the container's mount
// namespace existed (a user namespace, created or joined, with id-mapped
// binds or without). Without a user namespace, id-mapped binds (which the
// runtime opens too) are still listed ahead of the root (rootfs.ts, attachedAnew).
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeLeavingNoContainer, isRoot, parseMountinfo, uniqueId, type BundleConfig } from '../helpers/ocirun.js';
import type { IdMapping } from '../../src/spec/types.js';

const rt = runtimeLeavingNoContainer();
const IDENTITY: IdMapping[] = [{ containerID: 0, hostID: 0, size: 65536 }];

function ownUserNamespace(c: BundleConfig): void {
  c.linux.namespaces.push({ type: 'user' });
  c.linux.uidMappings = IDENTITY;
  c.linux.gidMappings = IDENTITY;
}

/** The destinations of config.mounts, in the order the container's mountinfo first lists each, and in config order. */
function mountOrder(userNamespace: (c: BundleConfig) => void, binds: BundleConfig['mounts']): { listed: string[]; config: string[] } {
  const b = rt.bundle(['cat', '/proc/self/mountinfo'], (c) => {
    c.root.readonly = false;
    userNamespace(c);
    c.mounts.push(
      { destination: '/a', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      binds[0],
      { destination: '/c', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      ...binds.slice(1),
    );
  });
  const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
  expect(r.code, r.stderr).toBe(0);
  const config = [
    ...new Set(['/', ...JSON.parse(readFileSync(path.join(b.dir, 'config.json'), 'utf8')).mounts.map((m: { destination: string }) => m.destination)]),
  ];
  const listed = [...new Set(parseMountinfo(r.stdout).map((m) => m.mountPoint))].filter((p) => config.includes(p));
  return { listed, config: config as string[] };
}

describe.skipIf(!isRoot)('mounts listed in config order', () => {
  const source = rt.scratchPath(`order-${uniqueId()}`);
  mkdirSync(path.join(source, 'sub'), { recursive: true });
  const binds: BundleConfig['mounts'] = [
    { destination: '/b', type: 'bind', source, options: ['bind', 'ro'] },
    { destination: '/d', type: 'bind', source, options: ['rbind'] },
  ];

  it.each([
    ['without a user namespace', () => {}],
    ['with a user namespace of its own', ownUserNamespace],
  ])('%s', (_, userNamespace) => {
    const { listed, config } = mountOrder(userNamespace, binds);
    expect(listed).toEqual(config);
  });

  it('with a user namespace of its own and an id-mapped bind', () => {
    const idmapped = { ...binds[1], options: ['rbind', 'idmap'], uidMappings: IDENTITY, gidMappings: IDENTITY };
    const { listed, config } = mountOrder(ownUserNamespace, [binds[0], idmapped]);
    expect(listed).toEqual(config);
  });

  it('with a joined user namespace', () => {
    const holder = uniqueId('userns-holder');
    rt.ok(['run', '-d', '--bundle', rt.bundle(['sleep', '100'], ownUserNamespace).dir, holder]);
    try {
      const nsPath = `/proc/${rt.state(holder).pid}/ns/user`;
      const { listed, config } = mountOrder((c) => c.linux.namespaces.push({ type: 'user', path: nsPath }), binds);
      expect(listed).toEqual(config);
    } finally {
      rt.ok(['delete', '--force', holder]);
    }
  });
});
