// Resolving a path inside a root directory in user space, one component at a
// time, with the meaning openat2(2) gives RESOLVE_IN_ROOT: every absolute
// symlink and every ".." is taken as if the root were "/", so nothing outside
// it can be reached. openat2.ts falls back to this when the kernel keeps
// answering EAGAIN (a rename or mount somewhere on the host raced each try):
// nothing here looks up "..", so no race can make it fail that way.
//
// Each component is opened with O_PATH | O_NOFOLLOW relative to the directory
// reached so far. The directories of the path are kept open on a stack: ".."
// closes the top one (and is nothing at the root), an absolute symlink empties
// it back to the root, a relative one is read and walked from where it is. As
// the kernel does for scoped lookups (fs/namei.c, complete_walk), the result
// is then checked to be below the root, here by walking its real parents up:
// a directory moved out from under the root during the walk gives EXDEV.
import { E, SysError } from './ffi.js';
import { AT_EMPTY_PATH, O, RESOLVE, S_IFDIR, S_IFMT, close, fstatfsType, openat, readlinkat, setCloexec, statAt } from './files.js';

const S_IFLNK = 0o120000;
const O_TMPFILE_ONLY = 0o20000000;
/** path_resolution(7): at most 40 symlinks in one resolution (MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;
const PROC_SUPER_MAGIC = 0x9fa0;
/** The root directory of every procfs instance has inode 1 (fs/proc/root.c, PROC_ROOT_INO). */
const PROC_ROOT_INO = 1n;
/**
 * Deeper than any lookup can go: a path of PATH_MAX bytes and MAX_SYMLINKS
 * link targets of as many, "a/" per level.
 */
const MAX_DEPTH = (MAX_SYMLINKS + 1) * 2048;
/** The resolve flags this resolver gives their openat2(2) meaning. */
const SUPPORTED = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS | RESOLVE.NO_SYMLINKS;

/** Whether resolveInRoot takes these flags: RESOLVE_IN_ROOT, optionally with NO_MAGICLINKS or NO_SYMLINKS, and nothing that creates. */
export function canResolveInRoot(flags: number, resolve: number): boolean {
  return (resolve & RESOLVE.IN_ROOT) !== 0 && (resolve & ~SUPPORTED) === 0 && (flags & (O.CREAT | O_TMPFILE_ONLY)) === 0;
}

/**
 * What openat2(rootFd, path, { flags, resolve }) opens, found without the
 * kernel's scoped lookup; EINVAL for flags canResolveInRoot refuses. Errors
 * are the kernel's for the same tree (ENOENT, ENOTDIR, ELOOP, ...), as
 * SysErrors of 'open' naming `path`.
 */
export function resolveInRoot(rootFd: number, path: string, flags: number, resolve: number): number {
  const fail = (errno: number): never => {
    throw new SysError('open', errno, path);
  };
  if (!canResolveInRoot(flags, resolve)) fail(E.EINVAL);
  // The kernel is given a C string: it sees the path up to its first NUL.
  const seen = path.split('\0', 1)[0];
  if (seen === '') fail(E.ENOENT);
  const stack = [rootFd];
  // Components still to walk, the next one last. A trailing "/" asks for a
  // directory and follows a trailing symlink, as a trailing "/." does.
  const todo = namesOf(seen).reverse();
  let links = 0;
  try {
    while (todo.length > 0) {
      const name = todo.pop()!;
      const last = todo.length === 0;
      if (name === '..' && stack.length > 1) close(stack.pop()!);
      if (name === '.' || name === '..') {
        if (last) return openDirectory(rootFd, stack[stack.length - 1], flags);
        continue;
      }
      const parent = stack[stack.length - 1];
      const fd = openat(parent, name, O.PATH | O.NOFOLLOW | O.CLOEXEC);
      let type: number;
      try {
        type = statAt(fd, '', AT_EMPTY_PATH).mode & S_IFMT;
      } catch (err) {
        close(fd);
        throw err;
      }
      if (type === S_IFLNK && !(last && (flags & O.NOFOLLOW) !== 0)) {
        let target: string;
        try {
          if ((resolve & RESOLVE.NO_SYMLINKS) !== 0) fail(E.ELOOP);
          // Following a magic link would leave the root: openat2(2) refuses
          // them under RESOLVE_IN_ROOT, with ELOOP for RESOLVE_NO_MAGICLINKS.
          if (isMagicLink(fd, parent)) fail((resolve & RESOLVE.NO_MAGICLINKS) !== 0 ? E.ELOOP : E.EXDEV);
          if (++links > MAX_SYMLINKS) fail(E.ELOOP);
          target = readlinkat(fd, '');
        } finally {
          close(fd);
        }
        if (target.startsWith('/')) while (stack.length > 1) close(stack.pop()!);
        todo.push(...namesOf(target).reverse());
        continue;
      }
      if (!last) {
        if (type !== S_IFDIR) {
          close(fd);
          fail(E.ENOTDIR);
        }
        stack.push(fd);
        continue;
      }
      try {
        assertBelowRoot(rootFd, parent, path);
        if ((flags & O.DIRECTORY) !== 0 && type !== S_IFDIR) fail(E.ENOTDIR);
      } catch (err) {
        close(fd);
        throw err;
      }
      if ((flags & O.PATH) !== 0) {
        if ((flags & O.CLOEXEC) === 0) setCloexec(fd, false);
        return fd;
      }
      close(fd);
      // O_NOFOLLOW: if a symlink took the file's place since, this is ELOOP,
      // and the name is looked at again, a bounded number of times.
      try {
        return openat(parent, name, flags | O.NOFOLLOW);
      } catch (err) {
        if (!(err instanceof SysError) || err.errno !== E.ELOOP || (flags & O.NOFOLLOW) !== 0 || ++links > MAX_SYMLINKS) throw err;
        todo.push(name);
      }
    }
    throw new Error('unreachable: every path ends with a name');
  } finally {
    for (const fd of stack.slice(1)) close(fd);
  }
}

/** The names of `path`, "" and repeated slashes dropped; "." for "/" and after a trailing "/". */
function namesOf(path: string): string[] {
  const names = path.split('/').filter((name) => name !== '');
  if (names.length === 0 || path.endsWith('/')) names.push('.');
  return names;
}

function openDirectory(rootFd: number, dirFd: number, flags: number): number {
  assertBelowRoot(rootFd, dirFd, '.');
  return openat(dirFd, '.', flags);
}

/**
 * Magic links (the fd/, cwd, root, exe, ns/ and map_files/ entries of a
 * process) live in procfs, below a process's directory; the only plain
 * symlinks of procfs are at its root ("self", "thread-self", "mounts", "net").
 */
function isMagicLink(linkFd: number, parentFd: number): boolean {
  return fstatfsType(linkFd) === PROC_SUPER_MAGIC && statAt(parentFd, '', AT_EMPTY_PATH).ino !== PROC_ROOT_INO;
}

/** EXDEV unless the directory at `dirFd` is the root or below it, through its real parents. */
function assertBelowRoot(rootFd: number, dirFd: number, path: string): void {
  const root = statAt(rootFd, '', AT_EMPTY_PATH);
  let fd = dirFd;
  try {
    let here = statAt(fd, '', AT_EMPTY_PATH);
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (here.ino === root.ino && here.dev === root.dev) return;
      const up = openat(fd, '..', O.PATH | O.DIRECTORY | O.CLOEXEC);
      if (fd !== dirFd) close(fd);
      fd = up;
      const above = statAt(fd, '', AT_EMPTY_PATH);
      // ".." of the process's root (or of a detached mount) is itself.
      if (above.ino === here.ino && above.dev === here.dev) break;
      here = above;
    }
  } finally {
    if (fd !== dirFd) close(fd);
  }
  throw new SysError('open', E.EXDEV, path);
}
