// Detached mounts whose flags the container cannot change. The kernel locks
// a mount's flags (ro, nosuid, nodev, noexec, atime: MNT_LOCK_*) and keeps
// its submounts from being unmounted (MNT_LOCKED) only when it copies a mount
// namespace into a less privileged user namespace (mount_namespaces(7),
// "Restrictions on mount namespaces"); a copy of a locked mount keeps the
// locks. A detached mount the runtime cloned in its own namespace has none,
// and once attached in a container with a user namespace of its own, the
// container's root (with CAP_SYS_ADMIN there) could remount it read-write,
// suid or exec, or unmount a submount to see what it covers on the host.
//
// So each mount goes through a namespace copy before the init gets it: a
// forked child attaches them in a private mount namespace of the host's user
// namespace, creates a user namespace and with it a copy of that mount
// namespace, whose mounts then carry the locks, and clones them out again as
// detached mounts (open_tree(2)), which keep the locks wherever they are
// attached. Its user namespace needs no id maps: only the copy matters.
import { OciError } from '../errors.js';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_RECURSIVE,
  CLONE,
  MS,
  O,
  OPEN_TREE_CLONE,
  S_IFDIR,
  S_IFMT,
  SOCK_CLOEXEC,
  SOCK_SEQPACKET,
  close,
  exit,
  fchdir,
  mkdirat,
  openat,
  read,
  socketpair,
  statAt,
  waitpid,
  write,
} from '../sys/libc.js';
import { recvFd, sendFd } from '../sys/fd-passing.js';
import { forkWithChannel } from '../process/forkable.js';
import type { Kernel } from '../sys/kernel.js';
import { attachMount, describeError, newFilesystem } from './detached-mounts.js';

export interface DetachedMount {
  fd: number;
  /** Its submounts come along (and stay locked). */
  recursive: boolean;
}

/**
 * Locked copies of `mounts`, in their order. The originals stay open: the
 * caller closes them. Runs as root of the host's user namespace. A forked
 * copy of the runtime that dies before it says anything (see spawnInit's
 * retries) is forked again, twice at most.
 */
export function lockedCopies(kernel: Kernel, mounts: DetachedMount[]): number[] {
  if (mounts.length === 0) return [];
  for (let attempt = 0; ; attempt++) {
    const copies = copiesFromChild(kernel, mounts);
    if (copies !== null) return copies;
    if (attempt >= 2) throw new OciError('container-init', 'locking the flags of bind mounts: the process making the copies died');
  }
}

/** null when the child died without a word. */
function copiesFromChild(kernel: Kernel, mounts: DetachedMount[]): number[] | null {
  const [ours, theirs] = socketpair(SOCK_SEQPACKET | SOCK_CLOEXEC);
  const pid = forkWithChannel(CLONE.NEWNS, [ours, theirs]);
  if (pid === 0) copyThroughUserNamespace(kernel, mounts, theirs);
  const copies: number[] = [];
  try {
    const status = read(ours, 4096).toString();
    if (status === '') return null;
    if (status !== 'ok') throw new OciError('container-init', `locking the flags of bind mounts: ${status}`);
    for (let i = 0; i < mounts.length; i++) copies.push(recvFd(ours).fd);
    return copies;
  } catch (err) {
    for (const fd of copies) close(fd);
    throw err;
  } finally {
    close(ours);
    waitpid(pid);
  }
}

/** The forked child: one packet "ok" then one fd per mount, or one packet saying what failed. */
function copyThroughUserNamespace(kernel: Kernel, mounts: DetachedMount[], socketFd: number): never {
  let copies: number[];
  try {
    // Nothing done here may reach the host's mounts.
    kernel.mount(null, '/', null, MS.REC | MS.PRIVATE, null);
    const stage = newFilesystem(kernel, 'tmpfs', 'tmpfs', ['mode=700'], 0, 0);
    // Any directory of this private copy will do but the root: unshare(2)
    // refuses a user namespace to a process whose root is covered by a
    // mount, as in a chroot.
    attachMount(kernel, stage, openat(AT_FDCWD, '/tmp', O.PATH | O.DIRECTORY | O.CLOEXEC));
    mounts.forEach((m, i) => {
      const isDir = (statAt(m.fd, '', AT_EMPTY_PATH).mode & S_IFMT) === S_IFDIR;
      if (isDir) mkdirat(stage, String(i), 0o700);
      else close(openat(stage, String(i), O.WRONLY | O.CREAT | O.EXCL | O.CLOEXEC, 0o600));
      const at = openat(stage, String(i), O.PATH | O.NOFOLLOW | O.CLOEXEC);
      attachMount(kernel, m.fd, at);
    });
    // The working directory follows into the copy (copy_mnt_ns), and so the lookups below.
    fchdir(stage);
    kernel.unshare(CLONE.NEWUSER | CLONE.NEWNS);
    copies = mounts.map((m, i) => kernel.openTree(AT_FDCWD, String(i), OPEN_TREE_CLONE | O.CLOEXEC | (m.recursive ? AT_RECURSIVE : 0)));
  } catch (err) {
    write(socketFd, describeError(err));
    exit(1);
  }
  write(socketFd, 'ok');
  for (const fd of copies) sendFd(socketFd, fd, 'mount');
  exit(0);
}
