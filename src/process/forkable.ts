import { closeSync, openSync, readSync } from 'node:fs';
import { clone3, cloneArgs, close, madvise } from '../sys/libc.js';

const MADV_DOFORK = 11;

/**
 * clone3 with `flags` from a Node process: returns the child's pid, and 0 in
 * the child, which runs on with a copy of the JavaScript heap and one thread.
 * With `cgroupFd` (a cgroup2 directory), the child starts in that cgroup.
 */
export function forkProcess(flags: number, mapsFd?: number, cgroupFd?: number): number {
  emptyYoungGeneration();
  const args = cloneArgs(flags, cgroupFd);
  makeMappingsForkable(mapsFd);
  return clone3(args);
}

/**
 * forkProcess with a channel to the child, made beforehand: `parentEnd` and
 * `childEnd` (a pipe's or a socket pair's). Each side closes the other's end;
 * a failed fork closes both.
 */
export function forkWithChannel(flags: number, [parentEnd, childEnd]: [number, number]): number {
  let pid: number;
  try {
    pid = forkProcess(flags);
  } catch (err) {
    close(parentEnd);
    close(childEnd);
    throw err;
  }
  close(pid === 0 ? parentEnd : childEnd);
  return pid;
}

/**
 * A scavenge right before the clone (gc() is there with bin/ocirun's
 * --expose-gc): the child then starts with an empty young generation and,
 * for the little it allocates, never collects it. A scavenge in the child
 * costs about 4 ms, every page it touches being copied on write; one here
 * about 1 ms.
 */
function emptyYoungGeneration(): void {
  (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc?.({ type: 'minor' });
}

/**
 * V8 marks its heap MADV_DONTFORK, so a child made by fork/clone would start
 * with no JavaScript heap and crash on its first step. Undo that right before
 * cloning, over the whole address space at once: madvise(2) applies the
 * advice to every mapping in the range and only reports ENOMEM for the holes.
 * The kernel's special mappings ([vvar]: VM_IO, which since Linux 6.x may sit
 * in the middle of the mmap area) would stop the walk with EINVAL, so the
 * range is cut around them.
 *
 * Every page V8 maps carries MADV_DONTFORK from birth, so nothing may be
 * allocated between the madvise calls and the clone: a garbage collection in
 * that window can move objects into a fresh page the child would not get.
 * The ranges are therefore computed first and the calls made back to back.
 */
export function makeMappingsForkable(mapsFd?: number): void {
  const ranges = forkableRanges(readMaps(mapsFd));
  for (let i = 0; i < ranges.length; i += 2) madvise(ranges[i], ranges[i + 1], MADV_DOFORK);
}

/** [start, length, start, length, ...]: the address space minus the special mappings. */
function forkableRanges(maps: string): number[] {
  const ranges: number[] = [];
  let from = 0;
  let top = 2 ** 47;
  for (const line of maps.split('\n')) {
    const dash = line.indexOf('-');
    const space = line.indexOf(' ');
    if (dash < 0 || space < 0) continue;
    const start = parseInt(line.slice(0, dash), 16);
    const end = parseInt(line.slice(dash + 1, space), 16);
    if (line.endsWith(']') && /\[(vvar|vvar_vclock|vsyscall)\]$/.test(line)) {
      if (start > from) ranges.push(from, start - from);
      from = end;
    } else if (end > top) {
      top = end;
    }
  }
  if (top > from) ranges.push(from, top - from);
  return ranges;
}

/**
 * `mapsFd`: /proc/self/maps opened before joining a mount namespace, whose
 * /proc may not know this process (it belongs to another pid namespace).
 */
function readMaps(mapsFd: number | undefined): string {
  const fd = mapsFd ?? openSync('/proc/self/maps', 'r');
  try {
    const chunks: Buffer[] = [];
    const chunk = Buffer.alloc(65536);
    let position = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, position);
      if (n === 0) break;
      chunks.push(Buffer.from(chunk.subarray(0, n)));
      position += n;
    }
    return Buffer.concat(chunks).toString('latin1');
  } finally {
    if (mapsFd === undefined) closeSync(fd);
  }
}
