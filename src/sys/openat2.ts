// openat2(2), the lookup every container path goes through; ENOSYS on
// kernels before 5.6.
//
// With RESOLVE_IN_ROOT or RESOLVE_BENEATH the kernel answers EAGAIN when a
// rename or a mount anywhere on the host raced a lookup through ".."
// (openat2(2), ERRORS; the global rename_lock and mount_lock seqcounts), and
// a container can rename in a loop for as long as it likes. So the call is
// tried a few times, then, for RESOLVE_IN_ROOT, the same lookup is made in
// user space (resolve-in-root.ts), where no race turns into a failure.
import { SYS } from './arch.js';
import { E, SysError, check, f, koffi } from './ffi.js';
import { canResolveInRoot, resolveInRoot } from './resolve-in-root.js';

/** What openat2() does when the kernel answers EAGAIN; tests choose their own. */
export interface Openat2Retry {
  /** Tries of the kernel's lookup, the first included. */
  attempts: number;
  /** The lookup made after them, for the flags canResolveInRoot takes. */
  inUserSpace: typeof resolveInRoot;
}

/**
 * 16 tries, then the user-space lookup. Only a lookup through ".." can lose
 * the race, and in user space one of those costs 25-30 times what it costs
 * the kernel (about 300 µs for a path of symlinks and ".."s, where the kernel
 * takes 10), so 16 lost tries cost about half of it. Under a rename loop, 99%
 * of such lookups or more still end in the kernel; the others cost at most
 * about 1.5 times the user-space lookup, where 1,024 tries could spin for
 * 10 ms and then fail.
 */
const RETRY: Openat2Retry = { attempts: 16, inUserSpace: resolveInRoot };

/** openat2(2) of `path` below `dirfd`: see the top of this file for EAGAIN. */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number, retry = RETRY): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  for (let attempt = 1; ; attempt++) {
    const fd = Number(f.syscall(SYS.openat2, 'int', dirfd, 'const char *', path, 'void *', how, 'size_t', how.length));
    if (fd !== -1 || koffi.errno() !== E.EWOULDBLOCK) return check(fd, 'open', path);
    if (attempt >= retry.attempts) break;
  }
  if (!canResolveInRoot(flags, resolve)) throw new SysError('open', E.EWOULDBLOCK, path);
  return retry.inUserSpace(dirfd, path, flags, resolve);
}
