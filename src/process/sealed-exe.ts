// The container's init and every exec'd process start as a fork of the
// runtime's Node process, so until they execve, /proc/<pid>/exe is the host's
// `node`. A container that gets hold of it (an entrypoint starting
// `#!/proc/self/exe` makes the kernel run it inside the container; with
// CAP_SYS_PTRACE, /proc/<pid>/exe of a waiting init) keeps an O_PATH handle
// and, once no process runs it any more, reopens it for writing through
// /proc/self/fd: the host's node is overwritten (CVE-2019-5736).
//
// So the forked child switches its exe to the same binary seen through a
// detached overlayfs mount with only lower layers, before it goes near the
// container. Such an overlay has no upper layer to write to: every open for
// writing fails with EROFS, whatever the mount's own flags (which a process
// holding the mount and CAP_SYS_ADMIN in any user namespace could clear:
// mount_setattr(2) asks no more of a detached mount). Its pages are the real
// file's page cache: nothing is copied but the binary's few written pages.
import { fstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import {
  FSCONFIG_CMD_CREATE, FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC, MAP, MOUNT_ATTR, O, PR, PROT, close, currentBrk, declareMappingCalls,
  fsconfigCommand, fsconfigFd, fsmount, fsopen, memcpy, mmap, mprotect, mremapOnto, open, openat, prctlStruct, pread, SysError,
} from '../sys/libc.js';

const PAGE = 4096;

/**
 * Everything the child needs to switch, prepared by the runtime before the
 * fork: the child, whose every first write to a page copies it, does no
 * more than the system calls.
 */
export interface SealedExe {
  /** The runtime's binary through the overlay, read-only, close-on-exec. */
  fd: number;
  /** The binary's mappings, in /proc/self/maps order; `copy` for those the loader wrote. */
  mappings: Array<Mapping & { copy: boolean }>;
  /** struct prctl_mm_map with this process's layout and exe_fd, all but brk. */
  mmMap: Buffer;
}

interface Mapping {
  start: number;
  length: number;
  offset: number;
  prot: number;
}

/**
 * In the runtime, before the fork: the plan for switchToSealedExe, or null
 * where the runtime's user cannot write its binary anyway (a container can
 * do no more than that user could) and the overlay cannot be made.
 */
export function prepareSealedExe(): SealedExe | null {
  const exe = statSync('/proc/self/exe');
  const exePath = readlinkSync('/proc/self/exe');
  let fd = -1;
  try {
    fd = openThroughOverlay(exePath, exe.ino);
    const mappings = exeMappings(exePath, exe.dev, exe.ino);
    if (mappings.length === 0) throw new OciError('system', `no mapping of ${exePath} in /proc/self/maps`);
    const written = writtenRanges(fd, mappings);
    declareMappingCalls();
    return {
      fd,
      mappings: mappings.map((m) => ({ ...m, copy: written.some(([from, to]) => m.start < to && m.start + m.length > from) })),
      mmMap: mmMapWithExe(fd),
    };
  } catch (err) {
    if (fd >= 0) close(fd);
    if (process.geteuid?.() !== 0 && !writableByCaller(exe)) return null;
    const why = err instanceof Error ? err.message : String(err);
    throw new OciError('container-init', `cannot seal the runtime's binary before starting a container process (CVE-2019-5736): ${why}`);
  }
}

function writableByCaller(exe: { uid: number; gid: number; mode: number }): boolean {
  const uid = process.geteuid?.();
  return exe.uid === uid || (exe.mode & 0o002) !== 0 || ((exe.mode & 0o020) !== 0 && process.getgroups?.().includes(exe.gid) === true);
}

/**
 * overlayfs runs with lower layers only when it has two of them (an upper
 * layer would take writes). The second is an empty read-only tmpfs, given
 * as an fd ("lowerdir+" with FSCONFIG_SET_FD, Linux 6.13): a directory of the
 * host would do, but none may contain or lie under the binary's directory.
 */
function openThroughOverlay(exePath: string, exeIno: number): number {
  const fds: number[] = [];
  try {
    const emptyCtx = fsopen('tmpfs', FSOPEN_CLOEXEC);
    fds.push(emptyCtx);
    fsconfigCommand(emptyCtx, FSCONFIG_CMD_CREATE);
    const empty = fsmount(emptyCtx, FSMOUNT_CLOEXEC, MOUNT_ATTR.RDONLY);
    fds.push(empty);
    const dir = open(path.dirname(exePath), O.PATH | O.DIRECTORY | O.CLOEXEC);
    fds.push(dir);
    const overlayCtx = fsopen('overlay', FSOPEN_CLOEXEC);
    fds.push(overlayCtx);
    fsconfigFd(overlayCtx, 'lowerdir+', dir);
    fsconfigFd(overlayCtx, 'lowerdir+', empty);
    fsconfigCommand(overlayCtx, FSCONFIG_CMD_CREATE);
    const overlay = fsmount(overlayCtx, FSMOUNT_CLOEXEC, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV);
    fds.push(overlay);
    const sealed = openat(overlay, path.basename(exePath), O.RDONLY | O.NOFOLLOW | O.CLOEXEC);
    // overlayfs shows a lower file's own inode number; the name could since
    // have gone to another file (an upgrade of node).
    if (fstatSync(sealed).ino !== exeIno) {
      close(sealed);
      throw new OciError('system', `${exePath} is no longer the binary this process runs`);
    }
    return sealed;
  } finally {
    for (const fd of fds) close(fd);
  }
}

/**
 * In the forked child, single-threaded, before it does anything for the
 * container: makes the sealed binary its exe (prctl PR_SET_MM_MAP with
 * exe_fd, which needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in the child's
 * user namespace). The kernel refuses (EBUSY) while any mapping still comes
 * from the old exe's path (kernel/fork.c replace_mm_exe_file), so each one
 * is replaced first: pages the process never wrote by the same pages mapped
 * from the sealed file, written ones (data, relocations) by an anonymous
 * copy. Nothing this process runs meanwhile writes to the binary's data: it
 * is one thread, running these calls.
 */
export function switchToSealedExe(sealed: SealedExe | null): void {
  if (!sealed) return;
  for (const vma of sealed.mappings) {
    if (vma.copy) copyInPlace(vma);
    else mmap(vma.start, vma.length, vma.prot, MAP.PRIVATE | MAP.FIXED, sealed.fd, vma.offset);
  }
  const brk = currentBrk();
  sealed.mmMap.writeUInt32LE(brk % 2 ** 32, MM_MAP_BRK);
  sealed.mmMap.writeUInt32LE(Math.floor(brk / 2 ** 32), MM_MAP_BRK + 4);
  try {
    prctlStruct(PR.SET_MM, PR.SET_MM_MAP, sealed.mmMap, sealed.mmMap.length);
  } catch (err) {
    if (err instanceof SysError) throw wrap(err, 'switching to the sealed runtime binary');
    throw err;
  }
  close(sealed.fd);
}

/** Replaces a mapping by an anonymous one with the same contents and protection. */
function copyInPlace(vma: Mapping): void {
  const copy = mmap(0, vma.length, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS, -1, 0);
  if ((vma.prot & PROT.READ) === 0) mprotect(vma.start, vma.length, vma.prot | PROT.READ);
  memcpy(copy, vma.start, vma.length);
  mprotect(copy, vma.length, vma.prot);
  mremapOnto(copy, vma.length, vma.start);
}

/** The mappings of the file at `file` (dev, ino), from /proc/self/maps. */
function exeMappings(file: string, dev: number, ino: number): Mapping[] {
  // dev_t as the kernel encodes it (new_encode_dev): minor's low byte, major, then minor's high bits.
  const device = `${hex2(Math.floor(dev / 256) & 0xfff)}:${hex2((dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00))}`;
  const mappings: Mapping[] = [];
  for (const line of readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    if (!line.endsWith(file)) continue;
    const [range, perms, offset, devField, inode] = line.split(/ +/, 5);
    if (inode !== String(ino) || devField !== device) continue;
    const [start, end] = range.split('-').map((x) => parseInt(x, 16));
    const prot = (perms[0] === 'r' ? PROT.READ : 0) | (perms[1] === 'w' ? PROT.WRITE : 0) | (perms[2] === 'x' ? PROT.EXEC : 0);
    mappings.push({ start, length: end - start, offset: parseInt(offset, 16), prot });
  }
  return mappings;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/**
 * The address ranges of the binary's writable segments (ELF PT_LOAD with
 * PF_W): the only ones the loader writes (the data, relocations, and RELRO,
 * which lies inside them). The rest is never written and its mappings hold
 * only the file's pages. The segment at file offset 0 is mapped lowest,
 * which gives the load address of a position-independent binary.
 */
function writtenRanges(fd: number, mappings: Mapping[]): Array<[number, number]> {
  const header = pread(fd, 64, 0);
  if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) {
    throw new OciError('system', 'the runtime binary is not a 64-bit little-endian ELF file');
  }
  const phoff = Number(header.readBigUInt64LE(32));
  const phentsize = header.readUInt16LE(54);
  const phnum = header.readUInt16LE(56);
  const table = pread(fd, phentsize * phnum, phoff);
  const PT_LOAD = 1;
  const PF_W = 2;
  const loads = [];
  for (let i = 0; i < phnum; i++) {
    const ph = table.subarray(i * phentsize);
    if (ph.readUInt32LE(0) !== PT_LOAD) continue;
    loads.push({ writable: (ph.readUInt32LE(4) & PF_W) !== 0, offset: Number(ph.readBigUInt64LE(8)), vaddr: Number(ph.readBigUInt64LE(16)), memsz: Number(ph.readBigUInt64LE(40)) });
  }
  const first = loads.find((l) => l.offset === 0);
  const lowest = Math.min(...mappings.filter((m) => m.offset === 0).map((m) => m.start));
  if (!first || !Number.isFinite(lowest)) throw new OciError('system', 'cannot tell where the runtime binary is loaded');
  const bias = lowest - pageDown(first.vaddr);
  return loads.filter((l) => l.writable).map((l) => [bias + pageDown(l.vaddr), bias + l.vaddr + l.memsz]);
}

function pageDown(n: number): number {
  return n - (n % PAGE);
}

const MM_MAP_BRK = 40;

/**
 * struct prctl_mm_map (linux/prctl.h): PR_SET_MM_MAP sets the exe together
 * with the memory layout, which must be passed as it is. /proc/self/stat has
 * the fields, the same in a forked child; brk (offset 40) may move until the
 * fork, so the child fills it in. The auxiliary vector is left as it is
 * (auxv and auxv_size 0).
 */
function mmMapWithExe(fd: number): Buffer {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => BigInt(fields[n - 3]); // numbered as in proc(5)
  const map = Buffer.alloc(104);
  const layout = [
    field(26), field(27), // start_code, end_code
    field(45), field(46), // start_data, end_data
    field(47), 0n, // start_brk, brk
    field(28), // start_stack
    field(48), field(49), field(50), field(51), // arg_start, arg_end, env_start, env_end
  ];
  layout.forEach((v, i) => map.writeBigUInt64LE(v, i * 8));
  map.writeUInt32LE(fd, 100); // exe_fd
  return map;
}
