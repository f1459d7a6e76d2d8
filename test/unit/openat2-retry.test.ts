// openat2(2) with RESOLVE_IN_ROOT fails with EAGAIN when a rename anywhere on
// the host races a lookup that goes through "..": every container path the
// runtime resolves must survive a host (or a container) that renames files
// in a loop, first by trying again, then by resolving in user space.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AT_EMPTY_PATH, AT_FDCWD, O, RESOLVE, SysError, close, openat, openat2, statAt } from '../../src/sys/libc.js';
import { resolveInRoot } from '../../src/sys/resolve-in-root.js';
import { renameLoop } from '../helpers/rename-loop.js';

/** Enough for a rename loop that runs at all to make 200 tries of the kernel fail. */
const MAX_LOOKUPS = 1_000_000;
const PATH = 'a/b/c/up/c/../../b/c/up/c';

describe('openat2 under a storm of renames', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-openat2-'));
  let renamer: ReturnType<typeof renameLoop>;
  let rootFd: number;
  let expected: string;

  beforeAll(async () => {
    mkdirSync(path.join(dir, 'root/a/b/c'), { recursive: true });
    symlinkSync('../../../a/b/c/../../b/c/../../b', path.join(dir, 'root/a/b/c/up'));
    mkdirSync(path.join(dir, 'storm'));
    writeFileSync(path.join(dir, 'storm', 'x'), '');
    renamer = renameLoop(path.join(dir, 'storm'), [
      ['x', 'y'],
      ['y', 'x'],
    ]);
    rootFd = openat(AT_FDCWD, path.join(dir, 'root'), O.PATH | O.DIRECTORY | O.CLOEXEC);
    const st = statAt(AT_FDCWD, path.join(dir, 'root/a/b/c'), 0);
    expected = `${st.dev}/${st.ino}`;
    // The renamer takes a while to start on a loaded machine: wait for the first lost race.
    while (!raceLost()) await new Promise((r) => setTimeout(r, 1));
  });
  afterAll(async () => {
    await renamer.stop();
    close(rootFd);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Whether one try of the kernel's lookup failed with EAGAIN (RESOLVE_NO_XDEV: no user-space lookup to fall back to). */
  function raceLost(): boolean {
    try {
      close(openat2(rootFd, PATH, O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_XDEV, { attempts: 1, inUserSpace: resolveInRoot }));
      return false;
    } catch (err) {
      if (err instanceof SysError && err.code === 'EWOULDBLOCK') return true;
      throw err;
    }
  }

  /**
   * Looks PATH up with `lookup` until `done` (at most MAX_LOOKUPS times): the
   * lookups that failed, by error, and those that opened something else than a/b/c.
   */
  function lookupsUntil(done: () => boolean, lookup: () => number): Record<string, number> {
    const outcomes: Record<string, number> = {};
    const count = (what: string) => (outcomes[what] = (outcomes[what] ?? 0) + 1);
    for (let i = 0; i < MAX_LOOKUPS && !done(); i++) {
      let fd: number;
      try {
        fd = lookup();
      } catch (err) {
        if (!(err instanceof SysError)) throw err;
        count(err.code);
        continue;
      }
      const st = statAt(fd, '', AT_EMPTY_PATH);
      close(fd);
      if (`${st.dev}/${st.ino}` !== expected) count('elsewhere');
    }
    return outcomes;
  }

  it('resolves a path full of ".." every time', () => {
    // A try of the kernel's beside each lookup, to know the storm is on: the lookups run until 200 of them lost.
    let lost = 0;
    const outcomes = lookupsUntil(
      () => (raceLost() && lost++, lost >= 200),
      () => openat2(rootFd, PATH, O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS),
    );
    expect({ lost, outcomes }).toEqual({ lost: 200, outcomes: {} });
  });

  it('resolves it in user space when every try of the kernel fails', () => {
    let inUserSpace = 0;
    const retry = {
      attempts: 1,
      inUserSpace: (...args: Parameters<typeof resolveInRoot>) => (inUserSpace++, resolveInRoot(...args)),
    };
    const outcomes = lookupsUntil(
      () => inUserSpace >= 200,
      () => openat2(rootFd, PATH, O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS, retry),
    );
    expect({ inUserSpace, outcomes }).toEqual({ inUserSpace: 200, outcomes: {} });
  });
});
