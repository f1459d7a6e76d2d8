// openat2(2) with RESOLVE_IN_ROOT fails with EAGAIN when a rename anywhere on
// the host races a lookup that goes through "..": every container path the
// runtime resolves must survive a host that renames files all the time.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { O, RESOLVE, close, openat2, openat, AT_FDCWD } from '../../src/sys/libc.js';

describe('openat2 under a storm of renames', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-openat2-'));
  let renamer: ReturnType<typeof spawn>;

  beforeAll(() => {
    mkdirSync(path.join(dir, 'root/a/b/c'), { recursive: true });
    symlinkSync('../../../a/b/c/../../b/c/../../b', path.join(dir, 'root/a/b/c/up'));
    mkdirSync(path.join(dir, 'storm'));
    renamer = spawn(
      'python3',
      [
        '-c',
        ['import os, sys', 'os.chdir(sys.argv[1]); open("x", "w").close()', 'while True:', '    os.rename("x", "y"); os.rename("y", "x")'].join('\n'),
        path.join(dir, 'storm'),
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(() => {
    renamer.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves a path full of ".." every time', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const root = openat(AT_FDCWD, path.join(dir, 'root'), O.PATH | O.DIRECTORY | O.CLOEXEC);
    const failures = new Map<string, number>();
    try {
      for (let i = 0; i < 20000; i++) {
        try {
          close(openat2(root, 'a/b/c/up/c/../../b/c/up/c', O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT));
        } catch (err) {
          const code = String((err as Error).message);
          failures.set(code, (failures.get(code) ?? 0) + 1);
        }
      }
    } finally {
      close(root);
    }
    expect(Object.fromEntries(failures)).toEqual({});
  });
});
