// A user namespace with given id maps, for MOUNT_ATTR_IDMAP (see
// linux/idmap-mounts.ts). A namespace's maps are written by a process of its
// parent namespace into /proc/<pid>/uid_map of a process inside it
// (user_namespaces(7)), so one must exist: a forked child that starts in a
// new user namespace (clone3 CLONE_NEWUSER) and only waits. Once the maps
// are written, the namespace's fd keeps it alive and the child is killed.
import type { IdMapping } from '../spec/types.js';
import { CLONE, O, close, exit, openat, pipe2, read, tryKill, waitpid } from '../sys/libc.js';
import { mapText, namespaceTypeOf } from '../linux/namespaces.js';
import { procfs } from '../linux/procfs.js';
import { OciError } from '../errors.js';
import { forkWithChannel } from './forkable.js';

/** An fd of a new user namespace whose uid_map and gid_map are `uid` and `gid`. */
export function userNamespaceWithMaps(uid: IdMapping[], gid: IdMapping[]): number {
  const [readEnd, writeEnd] = pipe2(O.CLOEXEC);
  const pid = forkWithChannel(CLONE.NEWUSER, [writeEnd, readEnd]);
  if (pid === 0) {
    // The holder. Should the runtime die before it kills it, its end of the
    // pipe closes and the read returns: no holder outlives its runtime.
    try {
      read(readEnd, 1);
    } finally {
      exit(0);
    }
  }
  try {
    // Through the runtime's verified procfs: the holder is its child, not yet reaped, so the pid is still its.
    procfs().write(`${pid}/uid_map`, mapText(uid));
    procfs().write(`${pid}/gid_map`, mapText(gid));
    return openUserNamespace(pid);
  } finally {
    tryKill(pid, 'SIGKILL');
    close(writeEnd);
    try {
      waitpid(pid);
    } catch {
      // reaped already
    }
  }
}

/**
 * /proc/<pid>/ns/user is a magic link, which the procfs handle's lookups
 * refuse to follow: its directory is reached through the handle and the
 * link followed from there, then the result checked to be a user namespace.
 */
function openUserNamespace(pid: number): number {
  const nsDir = procfs().open(`${pid}/ns`, O.PATH | O.DIRECTORY);
  let fd = -1;
  try {
    fd = openat(nsDir, 'user', O.RDONLY | O.CLOEXEC);
    if (namespaceTypeOf(fd) !== 'user') throw new OciError('system', `/proc/${pid}/ns/user is not a user namespace`);
    return fd;
  } catch (err) {
    if (fd >= 0) close(fd);
    throw err;
  } finally {
    close(nsDir);
  }
}
