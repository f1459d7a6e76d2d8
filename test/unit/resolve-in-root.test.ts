// The user-space lookup openat2() falls back to when the kernel keeps
// answering EAGAIN must open what openat2(2) with RESOLVE_IN_ROOT opens, or
// fail the same way, on any tree a container can build.
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AT_EMPTY_PATH, AT_FDCWD, O, RESOLVE, SysError, close, openat, openat2, statAt } from '../../src/sys/libc.js';
import { resolveInRoot } from '../../src/sys/resolve-in-root.js';
import { renameLoop } from '../helpers/rename-loop.js';

const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;
/** The kernel's answer alone: enough tries that it answers, on a host where nothing renames in a loop. */
const KERNEL_ONLY = {
  attempts: 1_000_000,
  inUserSpace: () => {
    throw new Error('openat2 kept answering EAGAIN');
  },
};

type Outcome = { ok: string } | { error: string };

/** What a resolver gave: the identity of the object it opened, or its error's name. */
function outcome(open: () => number): Outcome {
  let fd: number;
  try {
    fd = open();
  } catch (err) {
    if (err instanceof SysError) return { error: err.code };
    throw err;
  }
  try {
    const st = statAt(fd, '', AT_EMPTY_PATH);
    return { ok: `${st.dev}/${st.ino}` };
  } finally {
    close(fd);
  }
}

function identity(file: string): Outcome {
  const st = statAt(AT_FDCWD, file, 0x100 /* AT_SYMLINK_NOFOLLOW */);
  return { ok: `${st.dev}/${st.ino}` };
}

function bothResolvers(rootFd: number, p: string, flags: number, resolve: number): { kernel: Outcome; userSpace: Outcome } {
  return {
    kernel: outcome(() => openat2(rootFd, p, flags, 0, resolve, KERNEL_ONLY)),
    userSpace: outcome(() => resolveInRoot(rootFd, p, flags, resolve)),
  };
}

describe('resolveInRoot on a hostile tree', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-'));
  const root = path.join(dir, 'root');
  const at = (p: string) => path.join(root, p);
  mkdirSync(at('etc'), { recursive: true });
  mkdirSync(at('a/b/c'), { recursive: true });
  mkdirSync(path.join(dir, 'etc'));
  writeFileSync(at('etc/passwd'), 'inside\n');
  writeFileSync(path.join(dir, 'etc/passwd'), 'outside\n');
  writeFileSync(at('file'), '');
  symlinkSync('/etc/passwd', at('absolute'));
  symlinkSync('/etc', at('a/b/absolute'));
  symlinkSync('../../../../../../etc', at('a/b/c/up'));
  symlinkSync('/../../a/b/../../a/b/c/../../../etc/passwd', at('dotdots'));
  symlinkSync('loop2', at('loop1'));
  symlinkSync('/loop1', at('loop2'));
  symlinkSync('nowhere', at('dangling'));
  symlinkSync('file', at('to-file'));
  for (let i = 0; i < 41; i++) symlinkSync(i === 0 ? 'etc' : `chain${i - 1}`, at(`chain${i}`));
  const rootFd = openat(AT_FDCWD, root, O.PATH | O.DIRECTORY | O.CLOEXEC);
  afterAll(() => {
    close(rootFd);
    rmSync(dir, { recursive: true, force: true });
  });

  const resolve = (p: string, flags = O.PATH | O.CLOEXEC, how: number = IN_ROOT) => outcome(() => resolveInRoot(rootFd, p, flags, how));

  it('keeps absolute symlinks and ".." inside the root', () => {
    expect(resolve('absolute')).toEqual(identity(at('etc/passwd')));
    expect(resolve('a/b/absolute/passwd')).toEqual(identity(at('etc/passwd')));
    expect(resolve('a/b/c/up/passwd')).toEqual(identity(at('etc/passwd')));
    expect(resolve('dotdots')).toEqual(identity(at('etc/passwd')));
    expect(resolve('/../../../etc/passwd')).toEqual(identity(at('etc/passwd')));
    expect(resolve('..')).toEqual(identity(root));
    expect(resolve('/')).toEqual(identity(root));
  });

  it('counts symlinks as the kernel does: 40 are followed, the 41st is ELOOP, and so is a loop', () => {
    expect(resolve('chain39')).toEqual(identity(at('etc')));
    expect(resolve('chain40')).toEqual({ error: 'ELOOP' });
    expect(resolve('loop1')).toEqual({ error: 'ELOOP' });
  });

  it('fails as openat2 does on dangling links, files used as directories and refused symlinks', () => {
    expect(resolve('dangling')).toEqual({ error: 'ENOENT' });
    expect(resolve('dangling', O.PATH | O.NOFOLLOW | O.CLOEXEC)).toEqual(identity(at('dangling')));
    expect(resolve('file/x')).toEqual({ error: 'ENOTDIR' });
    expect(resolve('to-file/')).toEqual({ error: 'ENOTDIR' });
    expect(resolve('file/..')).toEqual({ error: 'ENOTDIR' });
    expect(resolve('file', O.PATH | O.DIRECTORY | O.CLOEXEC)).toEqual({ error: 'ENOTDIR' });
    expect(resolve('absolute', O.RDONLY | O.NOFOLLOW | O.CLOEXEC)).toEqual({ error: 'ELOOP' });
    expect(resolve('absolute', O.PATH | O.CLOEXEC, IN_ROOT | RESOLVE.NO_SYMLINKS)).toEqual({ error: 'ELOOP' });
    expect(resolve('')).toEqual({ error: 'ENOENT' });
  });

  it('opens the file itself for reading, not only as O_PATH', () => {
    const fd = resolveInRoot(rootFd, 'a/b/c/up/passwd', O.RDONLY | O.CLOEXEC, IN_ROOT);
    try {
      expect(readFileSync(fd, 'utf8')).toBe('inside\n');
    } finally {
      close(fd);
    }
  });

  it('refuses what it cannot do as openat2 would: creating, or resolving beneath without a root', () => {
    expect(resolve('new', O.RDWR | O.CREAT | O.CLOEXEC)).toEqual({ error: 'EINVAL' });
    expect(resolve('etc', O.PATH | O.CLOEXEC, RESOLVE.BENEATH)).toEqual({ error: 'EINVAL' });
  });

  it('agrees with openat2 on every path of the hostile tree, whatever the flags', () => {
    const paths = [
      'absolute',
      'a/b/absolute/passwd',
      'a/b/c/up',
      'a/b/c/up/passwd',
      'dotdots',
      'loop1',
      'dangling',
      'to-file',
      'to-file/',
      'file/..',
      'chain39',
      'chain40',
      'a/./b//c/',
      '.',
    ];
    for (const p of paths) {
      for (const flags of OPEN_FLAGS) {
        for (const how of RESOLVE_FLAGS) {
          const { kernel, userSpace } = bothResolvers(rootFd, p, flags, how);
          expect({ p, flags, how, got: userSpace }).toEqual({ p, flags, how, got: kernel });
        }
      }
    }
  });
});

const OPEN_FLAGS = [
  O.PATH | O.CLOEXEC,
  O.PATH | O.NOFOLLOW | O.CLOEXEC,
  O.PATH | O.DIRECTORY | O.CLOEXEC,
  O.PATH | O.NOFOLLOW | O.DIRECTORY | O.CLOEXEC,
  O.RDONLY | O.CLOEXEC,
  O.RDONLY | O.NOFOLLOW | O.CLOEXEC,
];
const RESOLVE_FLAGS = [IN_ROOT, RESOLVE.IN_ROOT, IN_ROOT | RESOLVE.NO_SYMLINKS];

describe('resolveInRoot and magic links', () => {
  // A process's directory in procfs is full of magic links: fd/*, cwd, root, exe, ns/*.
  const procFd = openat(AT_FDCWD, '/proc', O.PATH | O.DIRECTORY | O.CLOEXEC);
  afterAll(() => close(procFd));

  it('refuses them as RESOLVE_NO_MAGICLINKS does (ELOOP), and as RESOLVE_IN_ROOT alone does (EXDEV)', () => {
    expect(outcome(() => resolveInRoot(procFd, 'self/root', O.PATH | O.CLOEXEC, IN_ROOT))).toEqual({ error: 'ELOOP' });
    expect(outcome(() => resolveInRoot(procFd, 'thread-self/cwd/etc', O.PATH | O.CLOEXEC, IN_ROOT))).toEqual({ error: 'ELOOP' });
    expect(outcome(() => resolveInRoot(procFd, 'self/fd/0', O.RDONLY | O.CLOEXEC, RESOLVE.IN_ROOT))).toEqual({ error: 'EXDEV' });
  });

  it('agrees with openat2 on the links of procfs, plain and magic', () => {
    const paths = [
      'self',
      'self/',
      'thread-self',
      'mounts',
      'self/root',
      'self/root/',
      'self/cwd',
      'self/exe',
      'self/fd/0',
      'self/ns/mnt',
      'self/status',
      'self/task/../fd',
    ];
    for (const p of paths) {
      for (const flags of OPEN_FLAGS.filter((flags) => (flags & O.PATH) !== 0)) {
        for (const how of RESOLVE_FLAGS) {
          const { kernel, userSpace } = bothResolvers(procFd, p, flags, how);
          expect({ p, flags, how, got: userSpace }).toEqual({ p, flags, how, got: kernel });
        }
      }
    }
  });
});

describe('resolveInRoot against openat2 on random trees', () => {
  const NAMES = ['a', 'b', 'c'];
  const name = fc.constantFrom(...NAMES);
  const step = fc.constantFrom(...NAMES, '..', '.', '', 'x');
  const pathText = fc
    .tuple(fc.boolean(), fc.array(step, { maxLength: 6 }), fc.boolean())
    .map(([absolute, steps, trailing]) => `${absolute ? '/' : ''}${steps.join('/')}${trailing ? '/' : ''}`);
  const entry = fc.record({
    at: fc.array(name, { minLength: 1, maxLength: 3 }),
    kind: fc.constantFrom('dir', 'file', 'link', 'link'),
    target: pathText.map((t) => t || '.'),
  });

  /** Builds the entries that fit (a parent that is not a directory, or a name taken, skips one). */
  function build(root: string, entries: { at: string[]; kind: string; target: string }[]): void {
    mkdirSync(root);
    for (const e of entries) {
      const where = path.join(root, ...e.at);
      try {
        if (e.kind === 'dir') mkdirSync(where);
        else if (e.kind === 'file') writeFileSync(where, '', { flag: 'wx' });
        else symlinkSync(e.target, where);
      } catch {
        // taken, or no directory to hold it
      }
    }
  }

  it('gives the same object or the same error', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-random-'));
    // The same names beside each root: a lookup that escaped would land there.
    for (const n of NAMES) mkdirSync(path.join(dir, n));
    let run = 0;
    try {
      fc.assert(
        fc.property(
          fc.array(entry, { maxLength: 14 }),
          fc.array(pathText, { minLength: 1, maxLength: 12 }),
          fc.constantFrom(...OPEN_FLAGS),
          fc.constantFrom(...RESOLVE_FLAGS),
          (entries, paths, flags, how) => {
            const root = path.join(dir, `root${run++}`);
            build(root, entries);
            const rootFd = openat(AT_FDCWD, root, O.PATH | O.DIRECTORY | O.CLOEXEC);
            try {
              for (const p of paths) {
                const { kernel, userSpace } = bothResolvers(rootFd, p, flags, how);
                expect({ p, got: userSpace }).toEqual({ p, got: kernel });
              }
            } finally {
              close(rootFd);
              rmSync(root, { recursive: true, force: true });
            }
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resolveInRoot while a directory moves out of the root and back', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-moving-'));
  mkdirSync(path.join(dir, 'root/a/d'), { recursive: true });
  mkdirSync(path.join(dir, 'outside'));
  writeFileSync(path.join(dir, 'root/a/d/x'), '');
  const rootFd = openat(AT_FDCWD, path.join(dir, 'root'), O.PATH | O.DIRECTORY | O.CLOEXEC);
  const mover = renameLoop(dir, [
    ['root/a/d', 'outside/d'],
    ['outside/d', 'root/a/d'],
  ]);
  afterAll(async () => {
    await mover.stop();
    close(rootFd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers EXDEV for a file whose directory left the root during the lookup, as the kernel does', () => {
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < 1_000_000 && !outcomes.EXDEV; i++) {
      const got = outcome(() => resolveInRoot(rootFd, 'a/d/x', O.PATH | O.CLOEXEC, IN_ROOT));
      const key = 'error' in got ? got.error : 'opened';
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    expect(Object.keys(outcomes).filter((k) => !['opened', 'ENOENT'].includes(k))).toEqual(['EXDEV']);
  });
});
