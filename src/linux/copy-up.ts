// The "tmpcopyup" mount option: a new tmpfs starts with a copy of what its
// mount point held in the image (podman mounts /run and /tmp so, and every
// writable place of a --read-only container). The copy is made into the
// detached tmpfs before it is attached. The image is the container's to
// shape, so nothing of it is followed: every entry is opened relative to its
// directory's fd with O_NOFOLLOW, and a symlink is copied as a symlink.
// Nor may its shape make the copy larger than the image: holes of a sparse
// file stay holes, and hard links stay links to one copy. What the copy
// takes is charged to the container's memory cgroup (see RootfsPlan.charged).
import { OciError } from '../errors.js';
import { ftruncateSync, readSync, writeSync } from 'node:fs';
import {
  AT_EMPTY_PATH,
  AT_SYMLINK_NOFOLLOW,
  DT,
  O,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFMT,
  SEEK,
  SysError,
  close,
  fchmod,
  fchmodat,
  fchownat,
  linkat,
  lseek,
  mkdirat,
  mknodat,
  openat,
  readDirectory,
  readlinkat,
  statAt,
  symlinkat,
  type FileStat,
} from '../sys/libc.js';

const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const READ_DIR = O.RDONLY | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC;

/**
 * Copies the directory `fromFd` names (an O_PATH fd of the mount point) into
 * the root of the detached mount `toFd`: the root takes the mount point's
 * owner (its mode is the tmpfs's mode= option), and below it every
 * directory, file, symlink and device node keeps its owner and mode. Sockets are left out.
 */
export function copyUp(fromFd: number, toFd: number): void {
  const from = openat(fromFd, '.', READ_DIR);
  try {
    const to = openat(toFd, '.', READ_DIR);
    try {
      copyEntries(from, to, { root: to, dir: '', links: new Map() });
      chown(to, '', statAt(from, '', AT_EMPTY_PATH));
    } finally {
      close(to);
    }
  } finally {
    close(from);
  }
}

/** Where the copy stands: its root, the directory being filled (relative to it), files with more than one link. */
interface Copy {
  root: number;
  dir: string;
  /** "dev:ino" of a file of the image with several links → its copy's path from the root. */
  links: Map<string, string>;
}

function copyEntries(fromDir: number, toDir: number, copy: Copy): void {
  for (const entry of readDirectory(fromDir)) {
    if (entry.type === DT.SOCK) continue;
    const st = statAt(fromDir, entry.name, AT_SYMLINK_NOFOLLOW);
    switch (st.mode & S_IFMT) {
      case S_IFDIR:
        copyDirectory(fromDir, toDir, entry.name, st, copy);
        break;
      case S_IFREG:
        copyFileOrLink(fromDir, toDir, entry.name, st, copy);
        break;
      case S_IFLNK:
        symlinkat(readlinkat(fromDir, entry.name), toDir, entry.name);
        chown(toDir, entry.name, st);
        break;
      case S_IFCHR:
      case S_IFBLK:
      case S_IFIFO:
        mknodat(toDir, entry.name, (st.mode & S_IFMT) | 0o600, st.rdev);
        setOwnerAndMode(toDir, entry.name, st);
        break;
      default:
        break;
    }
  }
}

function copyDirectory(fromDir: number, toDir: number, name: string, st: FileStat, copy: Copy): void {
  const from = openat(fromDir, name, READ_DIR);
  try {
    mkdirat(toDir, name, 0o700);
    const to = openat(toDir, name, READ_DIR);
    try {
      copyEntries(from, to, { ...copy, dir: `${copy.dir}${name}/` });
      // Last: a directory of mode 0555 is filled first.
      setOwnerAndMode(to, '', st);
    } finally {
      close(to);
    }
  } finally {
    close(from);
  }
}

/**
 * A file whose other names were copied already becomes one more link to
 * that copy. The path is looked up in the new tmpfs, which nothing else can
 * reach while it is detached.
 */
function copyFileOrLink(fromDir: number, toDir: number, name: string, st: FileStat, copy: Copy): void {
  const key = `${st.dev}:${st.ino}`;
  const first = st.nlink > 1 ? copy.links.get(key) : undefined;
  if (first !== undefined) {
    linkat(copy.root, first, toDir, name, 0);
    return;
  }
  copyFile(fromDir, toDir, name, st);
  if (st.nlink > 1) copy.links.set(key, `${copy.dir}${name}`);
}

const chunk = Buffer.alloc(64 * 1024);

function copyFile(fromDir: number, toDir: number, name: string, st: FileStat): void {
  // O_NONBLOCK: should the entry have become a FIFO since it was looked at, open must not wait.
  const from = openat(fromDir, name, O.RDONLY | O.NOFOLLOW | O.NONBLOCK | O.NOCTTY | O.CLOEXEC);
  try {
    if ((statAt(from, '', AT_EMPTY_PATH).mode & S_IFMT) !== S_IFREG) throw new OciError('container-init', `${name} changed while it was copied`);
    const to = openat(toDir, name, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC, 0o600);
    try {
      copyData(from, to);
      setOwnerAndMode(to, '', st);
    } finally {
      close(to);
    }
  } finally {
    close(from);
  }
}

/** The data of `from`, range by range (lseek(2) SEEK_DATA, SEEK_HOLE): its holes are left unwritten. */
function copyData(from: number, to: number): void {
  let end = 0;
  for (let data = lseek(from, 0, SEEK.DATA); data !== null; data = lseek(from, end, SEEK.DATA)) {
    const hole = lseek(from, data, SEEK.HOLE)!;
    for (let at = data; at < hole;) {
      const n = readSync(from, chunk, 0, Math.min(chunk.length, hole - at), at);
      if (n === 0) break; // shorter than it was a moment ago
      for (let off = 0; off < n;) off += writeSync(to, chunk, off, n - off, at + off);
      at += n;
    }
    end = hole;
  }
  // The file's size, with a hole at its end if it has one.
  ftruncateSync(to, lseek(from, 0, SEEK.END)!);
}

/** Owner first: chown(2) clears the set-user-ID and set-group-ID bits. */
function setOwnerAndMode(dirFd: number, name: string, st: FileStat): void {
  chown(dirFd, name, st);
  if (name === '') fchmod(dirFd, st.mode & 0o7777);
  else fchmodat(dirFd, name, st.mode & 0o7777);
}

/**
 * In a user namespace an owner outside its id maps shows as the overflow
 * id, which the kernel refuses to give away (EINVAL): such entries keep the
 * init's ids.
 */
function chown(dirFd: number, name: string, st: FileStat): void {
  try {
    fchownat(dirFd, name, st.uid, st.gid, name === '' ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW);
  } catch (err) {
    if (!(err instanceof SysError && err.code === 'EINVAL')) throw err;
  }
}
