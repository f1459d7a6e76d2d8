// The iversion and noiversion mount options (config.md, Linux mount
// options: MUST): MS_I_VERSION on what mount(2) makes. Filesystems of today
// keep the counter whatever the flag says and /proc shows nothing of it, so
// the test watches the mount(2) calls themselves.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { Runtime, isRoot, refusedCreate, runInContainer, uniqueId } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => {
  const left = rt.containerIds();
  rt.dispose();
  expect(left, 'containers left behind').toEqual([]);
});

const hasStrace = spawnSync('strace', ['-V']).status === 0;

describe.skipIf(!isRoot)('iversion and noiversion', () => {
  it('are accepted on a tmpfs and a bind mount, not handed to the filesystem as data', () => {
    const r = runInContainer(rt, 'grep -c " /iv[0-9] " /proc/self/mountinfo', (c) => {
      c.mounts.push(
        { destination: '/iv1', type: 'tmpfs', source: 'tmpfs', options: ['iversion'] },
        { destination: '/iv2', type: 'tmpfs', source: 'tmpfs', options: ['noiversion'] },
        { destination: '/iv3', type: 'bind', source: '/tmp', options: ['rbind', 'iversion'] },
      );
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('3');
  });

  it.skipIf(!hasStrace)('set and clear MS_I_VERSION in the mount(2) that makes the filesystem', () => {
    const b = rt.bundle(['true'], (c) => {
      c.mounts.push(
        { destination: '/on', type: 'tmpfs', source: 'iversion-on', options: ['nosuid', 'iversion'] },
        { destination: '/off', type: 'tmpfs', source: 'iversion-off', options: ['iversion', 'noiversion'] },
      );
    });
    const trace = rt.scratchPath(`strace-${uniqueId()}`);
    const r = spawnSync('strace', [
      '-f',
      '--seccomp-bpf',
      '-qq',
      '-e',
      'trace=mount',
      '-o',
      trace,
      OCIRUN_BIN,
      '--root',
      rt.root,
      'run',
      '--bundle',
      b.dir,
      uniqueId(),
    ]);
    expect(r.status, String(r.stderr)).toBe(0);
    const calls = readFileSync(trace, 'utf8').split('\n');
    const flagsOf = (source: string) => calls.find((l) => l.includes(`mount("${source}"`))?.split(', ')[3];
    expect(flagsOf('iversion-on')).toBe('MS_NOSUID|MS_I_VERSION');
    expect(flagsOf('iversion-off')).toBe('0');
  });

  it('iversion is refused where the tmpfs is made with fsconfig(2), which has no such flag', () => {
    const b = rt.bundle(['true'], (c) => {
      c.mounts.push({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'iversion'] });
    });
    expect(refusedCreate(rt, b)).toMatch(/mount \/run \(tmpfs from tmpfs\): "iversion" cannot go with "tmpcopyup" or a propagation option/);
  });
});
