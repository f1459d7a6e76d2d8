// The user-space lookup under the attacks a container can mount on its own
// tree: procfs and process directories mounted anywhere in it, file
// descriptors left behind by failing lookups, trees deeper than a path,
// FIFOs at the leaf, and flags it must leave to the kernel.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AT_EMPTY_PATH, AT_FDCWD, O, RESOLVE, SysError, close, openat, openat2, statAt } from '../../src/sys/libc.js';
import { canResolveInRoot, resolveInRoot } from '../../src/sys/resolve-in-root.js';
import { renameLoop } from '../helpers/rename-loop.js';

const KERNEL_ONLY = {
  attempts: 1_000_000,
  inUserSpace: () => {
    throw new Error('openat2 kept answering EAGAIN');
  },
};

function outcome(open: () => number): string {
  let fd: number;
  try {
    fd = open();
  } catch (err) {
    if (err instanceof SysError) return err.code;
    throw err;
  }
  try {
    const st = statAt(fd, '', AT_EMPTY_PATH);
    return `${st.dev}/${st.ino}`;
  } finally {
    close(fd);
  }
}

const openFds = () => readdirSync('/proc/self/fd').length;

describe('resolveInRoot with procfs mounted below the root', () => {
  let dir = '';
  const mounted: string[] = [];
  let rootFd = -1;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-proc-'));
    mkdirSync(path.join(dir, 'sub/proc'), { recursive: true });
    mkdirSync(path.join(dir, 'pid'));
    mkdirSync(path.join(dir, 'fds'));
    for (const [args, at] of [
      [['-t', 'proc', 'proc'], 'sub/proc'],
      [['--bind', `/proc/${process.pid}`], 'pid'],
      [['--bind', `/proc/${process.pid}/fd`], 'fds'],
    ] as const) {
      execFileSync('mount', [...args, path.join(dir, at)]);
      mounted.push(path.join(dir, at));
    }
    rootFd = openat(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
  });
  afterAll(() => {
    if (rootFd >= 0) close(rootFd);
    for (const m of mounted) execFileSync('umount', ['-l', m]);
    execFileSync('rm', ['-rf', dir]);
  });

  it('never follows a magic link, wherever procfs or a process directory is mounted, as openat2 does', () => {
    const paths = [
      'sub/proc/self/root',
      'sub/proc/thread-self/root/etc',
      'sub/proc/self/fd/0',
      'sub/proc/self/ns/mnt',
      'sub/proc/self',
      'pid/root',
      'pid/cwd/',
      'pid/exe',
      'pid/task/../root',
      'fds/0',
      `fds/${rootFd}`,
      `fds/${rootFd}/..`,
      'pid/../sub/proc/mounts',
    ];
    for (const p of paths) {
      for (const how of [RESOLVE.IN_ROOT, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS]) {
        const kernel = outcome(() => openat2(rootFd, p, O.PATH | O.CLOEXEC, 0, how, KERNEL_ONLY));
        expect({ p, how, got: outcome(() => resolveInRoot(rootFd, p, O.PATH | O.CLOEXEC, how)) }).toEqual({ p, how, got: kernel });
      }
    }
  });
});

describe('resolveInRoot on failing lookups', () => {
  it('leaves no file descriptor open, whatever the error', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-fds-'));
    mkdirSync(path.join(dir, 'a/b/c'), { recursive: true });
    writeFileSync(path.join(dir, 'a/b/file'), '');
    symlinkSync('loop', path.join(dir, 'a/loop'));
    symlinkSync('/a/b/nowhere', path.join(dir, 'a/b/dangling'));
    const rootFd = openat(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
    const procFd = openat(AT_FDCWD, '/proc', O.PATH | O.DIRECTORY | O.CLOEXEC);
    try {
      const failing: [number, string, number, number][] = [
        [rootFd, 'a/b/c/nowhere/x', O.PATH, RESOLVE.IN_ROOT],
        [rootFd, 'a/b/file/x', O.PATH, RESOLVE.IN_ROOT],
        [rootFd, 'a/b/file', O.PATH | O.DIRECTORY, RESOLVE.IN_ROOT],
        [rootFd, 'a/b/c/../../loop', O.PATH, RESOLVE.IN_ROOT],
        [rootFd, 'a/b/dangling', O.RDONLY, RESOLVE.IN_ROOT],
        [rootFd, 'a/b/c/../../b/dangling/', O.PATH, RESOLVE.IN_ROOT | RESOLVE.NO_SYMLINKS],
        [rootFd, 'a/b/c/..', O.WRONLY, RESOLVE.IN_ROOT],
        [rootFd, 'a/b/c', O.WRONLY, RESOLVE.IN_ROOT],
        [procFd, 'self/task/../fd/0', O.PATH, RESOLVE.IN_ROOT],
        [procFd, 'thread-self/root', O.PATH, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS],
      ];
      const before = openFds();
      for (let i = 0; i < 1000; i++) {
        const [fd, p, flags, how] = failing[i % failing.length];
        expect(outcome(() => resolveInRoot(fd, p, flags | O.CLOEXEC, how))).toMatch(/^E/);
      }
      expect(openFds()).toBe(before);
    } finally {
      close(rootFd);
      close(procFd);
      execFileSync('rm', ['-rf', dir]);
    }
  });
});

describe('resolveInRoot below the root', () => {
  it('opens a FIFO at the leaf for reading and writing without waiting for a peer, as openat2 does', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-fifo-'));
    execFileSync('mkfifo', [path.join(dir, 'ptmx')]);
    const rootFd = openat(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
    try {
      expect(outcome(() => resolveInRoot(rootFd, 'ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC, RESOLVE.IN_ROOT))).toMatch(/^\d+:\d+\/\d+$/);
    } finally {
      close(rootFd);
      execFileSync('rm', ['-rf', dir]);
    }
  });

  it('opens a file deeper than a path reaches, as openat2 does, not EXDEV', () => {
    // 2,200 levels: a symlink to 1,500 of them, then 700 more in the path.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-deep-'));
    execFileSync('python3', [
      '-c',
      'import os,sys\nos.chdir(sys.argv[1])\nfor _ in range(2200):\n    os.mkdir("a"); os.chdir("a")\nopen("x","w").close()',
      dir,
    ]);
    symlinkSync(Array(1500).fill('a').join('/'), path.join(dir, 'deep'));
    const p = `deep/${Array(700).fill('a').join('/')}/x`;
    const rootFd = openat(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
    try {
      const kernel = outcome(() => openat2(rootFd, p, O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT, KERNEL_ONLY));
      expect(kernel).toMatch(/^\d+:\d+\/\d+$/);
      expect(outcome(() => resolveInRoot(rootFd, p, O.PATH | O.CLOEXEC, RESOLVE.IN_ROOT))).toBe(kernel);
    } finally {
      close(rootFd);
      execFileSync('rm', ['-rf', dir]);
    }
  });
});

describe('resolveInRoot on a path with a NUL byte', () => {
  it('looks up what the kernel is given, the path up to the NUL', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-nul-'));
    mkdirSync(path.join(dir, 'a'));
    writeFileSync(path.join(dir, 'b'), '');
    const rootFd = openat(AT_FDCWD, dir, O.PATH | O.DIRECTORY | O.CLOEXEC);
    try {
      for (const p of ['a\0/../b', '\0b', 'a/\0']) {
        const kernel = outcome(() => openat2(rootFd, p, O.PATH | O.CLOEXEC, 0, RESOLVE.IN_ROOT, KERNEL_ONLY));
        expect({ p, got: outcome(() => resolveInRoot(rootFd, p, O.PATH | O.CLOEXEC, RESOLVE.IN_ROOT)) }).toEqual({ p, got: kernel });
      }
    } finally {
      close(rootFd);
      execFileSync('rm', ['-rf', dir]);
    }
  });
});

describe('canResolveInRoot', () => {
  it('leaves to the kernel what creates, and every lookup that is not RESOLVE_IN_ROOT alone or with NO_SYMLINKS/NO_MAGICLINKS', () => {
    const O_TMPFILE = 0o20000000 | O.DIRECTORY;
    expect(canResolveInRoot(O.PATH, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_SYMLINKS)).toBe(true);
    expect(canResolveInRoot(O.RDWR | O.CREAT, RESOLVE.IN_ROOT)).toBe(false);
    expect(canResolveInRoot(O.RDWR | O_TMPFILE, RESOLVE.IN_ROOT)).toBe(false);
    expect(canResolveInRoot(O.PATH, RESOLVE.BENEATH)).toBe(false);
    expect(canResolveInRoot(O.PATH, RESOLVE.IN_ROOT | RESOLVE.BENEATH)).toBe(false);
    expect(canResolveInRoot(O.PATH, RESOLVE.IN_ROOT | RESOLVE.NO_XDEV)).toBe(false);
    expect(canResolveInRoot(O.PATH, RESOLVE.IN_ROOT | 0x20 /* RESOLVE_CACHED */)).toBe(false);
  });
});

describe('resolveInRoot while the root is renamed and a directory of the path leaves it', () => {
  it('opens only what is inside the root, or fails', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resolve-race-'));
    mkdirSync(path.join(dir, 'root/a/d'), { recursive: true });
    mkdirSync(path.join(dir, 'outside'));
    writeFileSync(path.join(dir, 'root/a/d/x'), '');
    writeFileSync(path.join(dir, 'root/a/y'), '');
    // What a real ".." from the moved directory would reach.
    writeFileSync(path.join(dir, 'outside/y'), '');
    const rootFd = openat(AT_FDCWD, path.join(dir, 'root'), O.PATH | O.DIRECTORY | O.CLOEXEC);
    const inside = new Set(['a/d/x', 'a/y'].map((p) => outcome(() => openat(rootFd, p, O.PATH | O.CLOEXEC))));
    const renames: Array<[string, string]> = [
      ['root/a/d', 'outside/d'],
      ['root', 'moved'],
      ['outside/d', 'moved/a/d'],
      ['moved', 'root'],
    ];
    const mover = renameLoop(dir, renames);
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 20_000; i++) {
        for (const p of ['a/d/x', 'a/d/../y', 'a/d/../../a/d/../y', 'a/d/../d/x']) {
          const got = outcome(() => resolveInRoot(rootFd, p, (i & 1 ? O.PATH : O.RDONLY) | O.CLOEXEC, RESOLVE.IN_ROOT));
          seen.add(/^E/.test(got) ? got : inside.has(got) ? 'inside' : `outside ${p}`);
        }
      }
      expect([...seen].filter((s) => !['inside', 'ENOENT', 'EXDEV'].includes(s))).toEqual([]);
    } finally {
      await mover.stop();
      close(rootFd);
      execFileSync('rm', ['-rf', dir]);
    }
  });
});
