// Memory mappings and a process's exe (see process/sealed-exe.ts).
import { SYS } from './arch.js';
import { check, f } from './ffi.js';

export function madvise(addr: number, len: number, advice: number): number {
  return Number(f.madvise(addr, len, advice));
}

export const PROT = { READ: 1, WRITE: 2, EXEC: 4 } as const;
export const MAP = { PRIVATE: 0x02, FIXED: 0x10, ANONYMOUS: 0x20 } as const;

/** mmap(2); returns the address. */
export function mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number {
  return check(f.mmap(addr, length, prot, flags, fd, offset), 'mmap', `0x${addr.toString(16)}`);
}
export function mprotect(addr: number, length: number, prot: number): void {
  check(f.mprotect(addr, length, prot), 'mprotect', `0x${addr.toString(16)}`);
}
export function memcpy(dest: number, src: number, length: number): void {
  f.memcpy(dest, src, length);
}
export function memset(dest: number, byte: number, length: number): void {
  f.memset(dest, byte, length);
}
/** mremap(2) with MREMAP_MAYMOVE|MREMAP_FIXED: moves [from, from+length) onto `to`, replacing what was there. */
export function mremapOnto(from: number, length: number, to: number): void {
  check(f.mremap(SYS.mremap, from, length, length, 3, to), 'mremap', `0x${to.toString(16)}`);
}
/** The current program break (brk(2) with 0 changes nothing and returns it). */
export function currentBrk(): number {
  return Number(f.brk(SYS.brk, 0));
}
/** Declares the calls above ahead of a fork: in the child, declaring one would allocate and touch pages. */
export function declareMappingCalls(): void {
  for (const name of ['mmap', 'mprotect', 'memcpy', 'mremap', 'brk', 'prctlStruct', 'close'] as const) void f[name];
}
/** prctl(2) whose third argument points to `data` (PR_SET_MM_MAP's struct prctl_mm_map). */
export function prctlStruct(option: number, a2: number, data: Buffer, a4 = 0): number {
  return check(f.prctlStruct(option, a2, data, a4, 0), 'prctl', String(option));
}
export function pread(fd: number, size: number, offset: number): Buffer {
  const buf = Buffer.alloc(size);
  return buf.subarray(0, check(f.pread(fd, buf, size, offset), 'read'));
}
