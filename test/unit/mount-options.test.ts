// `features` lists the mount options ocirun applies, and only those: each
// one listed is taken by the options parser (not passed on to the filesystem
// as data, which a bind mount would silently ignore).
import { describe, expect, it } from 'vitest';
import { features } from '../../src/cli/features.js';
import { parseMountOptions } from '../../src/linux/mount-options.js';
import { MS } from '../../src/sys/libc.js';

describe('mount options', () => {
  const listed = features().mountOptions;

  it('features lists what the parser applies, the id-mapping, i_version, recursive and copy-up ones included', () => {
    expect(listed.filter((o) => parseMountOptions([o]).data.length > 0)).toEqual([]);
    expect(listed).toEqual(
      expect.arrayContaining([
        'idmap',
        'ridmap',
        'iversion',
        'noiversion',
        'tmpcopyup',
        'rro',
        'rnosymfollow',
        'rstrictatime',
        'rnorelatime',
        'rnostrictatime',
      ]),
    );
    expect(listed).toEqual([...new Set(listed)].sort());
  });

  it('an option it does not list goes to the filesystem as data', () => {
    for (const o of ['size=1m', 'mode=755', 'nr_inodes=64', 'uid=0']) {
      expect(listed).not.toContain(o);
      expect(parseMountOptions([o]).data).toEqual([o]);
    }
  });

  it("iversion sets MS_I_VERSION and noiversion clears it; idmap and ridmap are the runtime's", () => {
    expect(parseMountOptions(['iversion']).flags & MS.I_VERSION).toBe(MS.I_VERSION);
    const both = parseMountOptions(['iversion', 'noiversion']);
    expect([both.flags & MS.I_VERSION, both.cleared & MS.I_VERSION]).toEqual([0, MS.I_VERSION]);
    expect([...parseMountOptions(['rbind', 'ridmap', 'idmap']).runtime].sort()).toEqual(['idmap', 'ridmap']);
  });
});
