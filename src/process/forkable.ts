import { closeSync, openSync, readSync } from 'node:fs';
import { madvise } from '../sys/libc.js';

const MADV_DOFORK = 11;

/**
 * V8 marks its heap MADV_DONTFORK, so a child made by fork/clone would start
 * with no JavaScript heap and crash on its first step. Undo that on every
 * mapping right before cloning. Reading /proc/self/maps allocates, which can
 * map new heap pages, hence the second pass.
 */
export function makeMappingsForkable(mapsFd?: number): void {
  for (let pass = 0; pass < 2; pass++) {
    const maps = readMaps(mapsFd);
    for (const line of maps.split('\n')) {
      const dash = line.indexOf('-');
      const space = line.indexOf(' ');
      if (dash < 0 || space < 0) continue;
      const start = parseInt(line.slice(0, dash), 16);
      const end = parseInt(line.slice(dash + 1, space), 16);
      // [vsyscall] and similar special mappings refuse madvise; that is fine.
      madvise(start, end - start, MADV_DOFORK);
    }
  }
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
