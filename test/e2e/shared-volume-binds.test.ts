// An rbind the runtime opens (id-mapped, or in a user namespace) under a shared volume, as with
// rootfsPropagation rshared and a bidirectional volume: the container sees
// the submounts of its source, not what they cover, and the host keeps the
// mounts of its volume.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, runInContainer, runtimeLeavingNoContainer, uniqueId } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();
const IDENTITY = [{ containerID: 0, hostID: 0, size: 65536 }];

describe.skipIf(!isRoot)('an rbind the runtime opened, under a shared volume', () => {
  it.each([
    ['id-mapped, without a user namespace', false, true],
    ['id-mapped, with a user namespace', true, true],
    ['with a user namespace', true, false],
  ])('%s: keeps its submounts, and the host keeps the mounts of the volume', (_, userNamespace, idmapped) => {
    const vol = rt.scratchPath(`vol-${uniqueId()}`);
    const src = rt.scratchPath(`src-${uniqueId()}`);
    mkdirSync(path.join(vol, 'hostsub'), { recursive: true });
    mkdirSync(path.join(vol, 'cmnt'));
    mkdirSync(path.join(src, 'sub'), { recursive: true });
    writeFileSync(path.join(src, 'sub', 'covered'), 'covered\n');
    try {
      execFileSync('mount', ['--bind', vol, vol]);
      execFileSync('mount', ['--make-shared', vol]);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(vol, 'hostsub')]);
      writeFileSync(path.join(vol, 'hostsub', 'host'), 'host\n');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(src, 'sub')]);
      writeFileSync(path.join(src, 'sub', 'submount'), 'submount\n');

      const r = runInContainer(rt, 'cat /vol/cmnt/sub/*; cat /vol/hostsub/*', (c) => {
        c.linux.rootfsPropagation = 'rshared';
        if (userNamespace) {
          c.linux.namespaces.push({ type: 'user' });
          c.linux.uidMappings = IDENTITY;
          c.linux.gidMappings = IDENTITY;
        }
        c.mounts.push(
          { destination: '/vol', type: 'bind', source: vol, options: ['rbind', 'rshared'] },
          idmapped
            ? { destination: '/vol/cmnt', type: 'bind', source: src, options: ['rbind', 'idmap'], uidMappings: IDENTITY, gidMappings: IDENTITY }
            : { destination: '/vol/cmnt', type: 'bind', source: src, options: ['rbind'] },
        );
      });
      expect({ code: r.code, stdout: r.stdout }, r.stderr).toEqual({ code: 0, stdout: 'submount\nhost\n' });
      expect(readFileSync(path.join(vol, 'hostsub', 'host'), 'utf8')).toBe('host\n');
    } finally {
      for (const p of [path.join(vol, 'cmnt'), path.join(vol, 'cmnt'), path.join(vol, 'hostsub'), vol, path.join(src, 'sub')]) {
        spawnSync('umount', ['-l', p]);
      }
    }
  });
});
