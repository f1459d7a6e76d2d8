// Which fds reach the container: only those the caller passed on purpose
// (stdio, --preserve-fds, systemd's listening sockets). Nothing this process
// opened itself (the state lock, a cgroup directory, Node's event loop) may be
// reachable from the container, neither after execve nor, through
// /proc/<pid>/fd, while the init still waits (CVE-2016-9962, CVE-2024-21626).
import { readlinkSync } from 'node:fs';
import { OciError } from '../errors.js';
import { procfs } from '../linux/procfs.js';
import { O, close, dup3, fdsListedIn, isOpenFd, open, openat, setCloexec } from '../sys/libc.js';

/** The first fd after stdio: where --preserve-fds and LISTEN_FDS start. */
export const FIRST_PASSED_FD = 3;

/**
 * systemd socket activation (sd_listen_fds(3)): LISTEN_FDS counts only when
 * LISTEN_PID names this process. Otherwise the variables were meant for
 * another process (a parent that did not unset them), and fds 3.. are not
 * listening sockets handed to us.
 */
export function listenFdCount(): number {
  if (process.env.LISTEN_PID !== String(process.pid)) return 0;
  const count = Number(process.env.LISTEN_FDS ?? 0);
  return Number.isSafeInteger(count) && count > 0 ? count : 0;
}

/**
 * Checks that fds 3 .. 3+count-1 are fds the caller passed to this process;
 * throws naming `what` otherwise. Called when a command starts, before the
 * container's files are opened. Node makes its event loop before any
 * JavaScript runs, an epoll instance first, in the lowest free fd: if the
 * caller left a gap in the range, Node's epoll sits at that gap or below it,
 * inside the range, and whatever was opened after it (Node's pipes and
 * eventfds, the --log file) comes after it.
 */
export function checkPassedFds(count: number, what: string): void {
  for (let fd = FIRST_PASSED_FD; fd < FIRST_PASSED_FD + count; fd++) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      target = '';
    }
    if (target === '' || target === 'anon_inode:[eventpoll]') {
      const passed = fd === FIRST_PASSED_FD ? 'only fds 0-2 were' : `only fds 0-${fd - 1} were`;
      throw new OciError('usage', `${what}: fd ${fd} was not passed to ocirun (${passed})`);
    }
  }
}

/**
 * In the child, right after the clone (and its own procfs handle, which it
 * keeps and lists its fds through): every fd but `keep` is replaced by
 * /dev/null (close-on-exec), which drops the runtime's handles (the lock, a
 * cgroup directory, fds the caller passed but did not preserve) before any
 * container process can look at this one. Replaced rather than closed:
 * libuv's eventfd is among them, and the copy of the runtime may still
 * signal it before execve; a write to /dev/null succeeds where one to a
 * closed fd would abort.
 */
export function dropFdsNotKept(keep: Iterable<number>): void {
  const proc = procfs();
  const kept = new Set([...keep, proc.fd]);
  const fdDir = proc.openSelf('fd', O.RDONLY | O.DIRECTORY);
  const fds = fdsListedIn(fdDir);
  close(fdDir);
  const devNull = open('/dev/null', O.RDWR | O.CLOEXEC);
  try {
    for (const fd of fds) {
      // isOpenFd: not fdDir, closed by now
      if (fd > 2 && fd !== devNull && !kept.has(fd) && isOpenFd(fd)) dup3(devNull, fd, O.CLOEXEC);
    }
  } finally {
    close(devNull);
  }
}

/**
 * close_range(CLOSE_RANGE_CLOEXEC) one fd at a time, for a seccomp filter of
 * a profile that predates close_range: the fds are listed from the init's
 * procfs ("self" there is the caller's pid in that procfs's pid namespace,
 * proc(5)), which must not stay open past this.
 */
export function markFdsCloseOnExecThroughProcfs(firstFd: number): void {
  // openat(2), not the handle's openat2(2): the filter may predate openat2 too.
  const fdDir = openat(procfs().fd, 'self/fd', O.RDONLY | O.DIRECTORY | O.CLOEXEC);
  for (const fd of fdsListedIn(fdDir)) if (fd >= firstFd && fd !== fdDir) setCloexec(fd, true);
  close(fdDir);
}
