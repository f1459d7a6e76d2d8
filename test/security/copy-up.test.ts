// tmpcopyup copies the image's directory into a new tmpfs: memory whose
// amount a hostile image decides. It must stay within the container's memory
// cgroup and never grow beyond what the image holds: a sparse file stays
// sparse, a set of hard links stays one file.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeLeavingNoContainer, isRoot, refusedCreate, uniqueId, type Bundle } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

const LIMIT = 16 << 20;

/** A container limited to 16 MiB whose /data is a 512 MiB tmpfs with tmpcopyup, from the image's /data that `fill` makes. */
function bundleCopying(fill: (data: string) => void): Bundle {
  const b = rt.bundle(['sh', '-c', 'du -sk /data | cut -f1; stat -c "%h %s" /data/*'], (c) => {
    c.linux.resources = { memory: { limit: LIMIT, swap: LIMIT } };
    c.mounts.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'size=512m'] });
  });
  const data = path.join(b.rootfs, 'data');
  mkdirSync(data);
  fill(data);
  return b;
}

function dd(source: string, target: string, mib: number): void {
  execFileSync('dd', [`if=${source}`, `of=${target}`, 'bs=1M', `count=${mib}`], { stdio: 'ignore' });
}

describe.skipIf(!isRoot)('tmpcopyup of a hostile image', () => {
  it('keeps a sparse file sparse', () => {
    const b = bundleCopying((data) => execFileSync('truncate', ['-s', '1G', path.join(data, 'sparse')]));
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`0\n1 ${1 << 30}\n`);
  });

  it('copies a set of hard links once', () => {
    const b = bundleCopying((data) => {
      dd('/dev/urandom', path.join(data, 'l0'), 6);
      for (let i = 1; i < 8; i++) linkSync(path.join(data, 'l0'), path.join(data, `l${i}`));
    });
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${6 << 10}\n${`8 ${6 << 20}\n`.repeat(8)}`);
  });

  it('charges the copy to the container: data above its memory limit fails the create', () => {
    const b = bundleCopying((data) => dd('/dev/zero', path.join(data, 'dense'), 48));
    expect(refusedCreate(rt, b)).toMatch(/OOM killer.*linux\.resources\.memory\.limit/);
  });
});
