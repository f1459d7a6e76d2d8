// The kernel's list format for CPUs and memory nodes (cpuset(7) "FORMATS"):
// "0-3,7", and the stride form "0-7:2/4" (of each group of 4, the first 2).
import { readFileSync } from 'node:fs';

/** The numbers a list names, in ascending order; throws a message saying what is wrong. */
export function parseList(text: string): number[] {
  const out = new Set<number>();
  if (text === '') return [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+)\/(\d+))?)?$/.exec(part);
    if (!m) throw new Error(`${JSON.stringify(part)} is not a number, a range "a-b" or "a-b:used/group"`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    const used = m[3] === undefined ? 1 : Number(m[3]);
    const group = m[4] === undefined ? 1 : Number(m[4]);
    if (last < first) throw new Error(`the range ${part} ends before it starts`);
    if (used < 1 || group < 1 || used > group) throw new Error(`the stride in ${part} must be used/group with 1 <= used <= group`);
    if (last >= 1024) throw new Error(`${last} is beyond the 1024 CPUs or nodes a mask holds`);
    for (let n = first; n <= last; n++) if ((n - first) % group < used) out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** A bitmask of `words` 64-bit words with the given bits set, as the kernel reads cpu_set_t and nodemask_t. */
export function bitmask(bits: number[], words: number): Buffer {
  const buf = Buffer.alloc(words * 8);
  for (const bit of bits) buf[bit >> 3] |= 1 << (bit & 7);
  return buf;
}

/** The list a sysfs file like /sys/devices/system/cpu/online holds, or null when it cannot be read. */
export function readSysList(file: string): number[] | null {
  try {
    return parseList(readFileSync(file, 'utf8').trim());
  } catch {
    return null;
  }
}
