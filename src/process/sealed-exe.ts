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
import { fstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import { ownLayoutField } from '../sys/proc.js';
import {
  FSCONFIG_CMD_CREATE,
  FSMOUNT_CLOEXEC,
  FSOPEN_CLOEXEC,
  MAP,
  MOUNT_ATTR,
  O,
  PR,
  PROT,
  close,
  currentBrk,
  declareMappingCalls,
  fsconfigCommand,
  fsconfigFd,
  fsconfigString,
  fsmount,
  fsopen,
  memcpy,
  mmap,
  mprotect,
  mremapOnto,
  open,
  openat,
  prctlStruct,
  pread,
  SysError,
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
export function prepareSealedExe({ fdLayers = true }: { fdLayers?: boolean } = {}): SealedExe | null {
  const exe = statSync('/proc/self/exe');
  const exePath = readlinkSync('/proc/self/exe');
  let fd = -1;
  try {
    fd = openThroughOverlay(exePath, exe.ino, fdLayers);
    const mappings = exeMappings();
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
 * layer would take writes). The second is empty: a directory of the host
 * would do, but none may contain or lie under the binary's directory.
 *
 * Linux 6.15 takes both layers as O_PATH fds ("lowerdir+" with
 * FSCONFIG_SET_FD) and accepts a detached mount as a layer, so the empty one
 * is a detached read-only tmpfs and nothing touches the host's filesystem.
 * Older kernels refuse: EOPNOTSUPP where overlayfs still parses the legacy
 * mount data, which takes no fd (before 6.5; seen on 6.1), EINVAL where
 * "lowerdir+" is unknown (before 6.7) or takes only a string
 * (6.7-6.12), EBADF where it takes fds but no O_PATH one (6.13-6.14), and
 * EINVAL at FSCONFIG_CMD_CREATE for a layer on a detached mount
 * (clone_private_mount() wanted the caller's mount namespace). They get the
 * layers as one "lowerdir" string instead, the empty one a directory in the
 * host's tree. Kernels without fsopen(2) (before 5.2) are refused: mounting
 * the overlay with mount(2) would put it, for a while, on a path in the
 * host's tree, and leave it there if the runtime died meanwhile.
 */
function openThroughOverlay(exePath: string, exeIno: number, fdLayers: boolean): number {
  const fds: number[] = [];
  const keep = (fd: number) => (fds.push(fd), fd);
  let madeEmpty: string | undefined;
  try {
    const dir = keep(open(path.dirname(exePath), O.PATH | O.DIRECTORY | O.CLOEXEC));
    let overlay = fdLayers ? overlayOfFdLayers(dir, keep) : -1;
    if (overlay < 0) {
      const empty = openEmptyLayer();
      madeEmpty = empty.made;
      overlay = overlayOfPathLayers(dir, keep(empty.fd), keep);
    }
    const sealed = openat(overlay, path.basename(exePath), O.RDONLY | O.NOFOLLOW | O.CLOEXEC);
    // overlayfs shows a lower file's own inode number; the name could since
    // have gone to another file (an upgrade of node).
    if (fstatSync(sealed).ino !== exeIno) {
      close(sealed);
      throw new OciError('system', `${exePath} is no longer the binary this process runs`);
    }
    return sealed;
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOSYS') {
      throw new Error(`the kernel has no ${err.call}(2): Linux 5.2 or later is needed`);
    }
    throw err;
  } finally {
    for (const fd of fds) close(fd);
    if (madeEmpty) rmdirSync(madeEmpty);
  }
}

/** The overlay mount of layers `dir` and a detached empty tmpfs, given as fds; -1 where the kernel cannot take them so. */
function overlayOfFdLayers(dir: number, keep: (fd: number) => number): number {
  const emptyCtx = keep(fsopen('tmpfs', FSOPEN_CLOEXEC));
  fsconfigCommand(emptyCtx, FSCONFIG_CMD_CREATE);
  const empty = keep(fsmount(emptyCtx, FSMOUNT_CLOEXEC, MOUNT_ATTR.RDONLY));
  const overlayCtx = keep(fsopen('overlay', FSOPEN_CLOEXEC));
  try {
    fsconfigFd(overlayCtx, 'lowerdir+', dir);
    fsconfigFd(overlayCtx, 'lowerdir+', empty);
    fsconfigCommand(overlayCtx, FSCONFIG_CMD_CREATE);
  } catch (err) {
    if (err instanceof SysError && ['EINVAL', 'EBADF', 'EOPNOTSUPP'].includes(err.code)) return -1;
    throw err;
  }
  return mountOverlay(overlayCtx, keep);
}

/**
 * The overlay mount of layers `dir` and `empty`, named by their
 * /proc/self/fd links (this process's, in the host's /proc): the kernel
 * resolves them once, to the directories already open, and no name needs
 * escaping (':' separates layers; the legacy mount data refuses ',').
 */
function overlayOfPathLayers(dir: number, empty: number, keep: (fd: number) => number): number {
  const overlayCtx = keep(fsopen('overlay', FSOPEN_CLOEXEC));
  fsconfigString(overlayCtx, 'lowerdir', `/proc/self/fd/${dir}:/proc/self/fd/${empty}`);
  fsconfigCommand(overlayCtx, FSCONFIG_CMD_CREATE);
  return mountOverlay(overlayCtx, keep);
}

/**
 * The empty layer of the path form, open O_PATH: the directory kept for it
 * in TMPDIR (making and removing one for each container would cost a
 * journal commit, 2 ms on ext4), used only when this user owns it and no
 * one else may write to it (the sticky bit of /tmp keeps others from
 * replacing it); otherwise a fresh one, `made`, to remove once used.
 */
function openEmptyLayer(): { fd: number; made?: string } {
  const tmp = process.env.TMPDIR || '/tmp';
  const kept = path.join(tmp, `ocirun-empty.${process.geteuid?.() ?? 0}`);
  let fd = openOwnDirectory(kept);
  if (fd < 0) {
    try {
      mkdirSync(kept, 0o555);
    } catch {
      // Someone else's, or TMPDIR is unusable: mkdtemp below says which.
    }
    fd = openOwnDirectory(kept);
  }
  if (fd >= 0) return { fd };
  const made = mkdtempSync(path.join(tmp, 'ocirun-empty-'));
  return { fd: open(made, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC), made };
}

/** `dir` open O_PATH when it is a directory that only this user may write to; else -1. */
function openOwnDirectory(dir: string): number {
  let fd: number;
  try {
    fd = open(dir, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC);
  } catch (err) {
    if (err instanceof SysError) return -1;
    throw err;
  }
  const st = fstatSync(fd);
  if (st.uid === (process.geteuid?.() ?? 0) && (st.mode & 0o022) === 0) return fd;
  close(fd);
  return -1;
}

/** The detached mount of the overlay `overlayCtx` made (read-only whatever its flags: it has no upper layer). */
function mountOverlay(overlayCtx: number, keep: (fd: number) => number): number {
  return keep(fsmount(overlayCtx, FSMOUNT_CLOEXEC, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV));
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

/**
 * The running binary's mappings: those of the file that holds its program
 * headers (AT_PHDR in the auxiliary vector, getauxval(3)), matched by the
 * device, inode and path /proc/self/maps gives it. Not by what
 * /proc/self/exe names: on an overlayfs the mappings are of the file below
 * the overlay, with its own device and inode.
 */
function exeMappings(): Mapping[] {
  const phdr = auxvEntry(AT_PHDR);
  const lines = readFileSync('/proc/self/maps', 'latin1').split('\n').map(mapsLine);
  const own = lines.find((l) => l !== null && l.start <= phdr && phdr < l.end);
  if (!own) return [];
  const mappings: Mapping[] = [];
  for (const l of lines) {
    if (l === null || l.file !== own.file) continue;
    mappings.push({
      start: l.start,
      length: l.end - l.start,
      offset: l.offset,
      prot: (l.perms[0] === 'r' ? PROT.READ : 0) | (l.perms[1] === 'w' ? PROT.WRITE : 0) | (l.perms[2] === 'x' ? PROT.EXEC : 0),
    });
  }
  return mappings;
}

/**
 * A line of /proc/self/maps (proc(5): "start-end perms offset dev inode",
 * then, after padding, the path) with a path; null for an anonymous mapping.
 * `file` is "dev inode path". Read with indexOf: a regular expression over
 * every line cost about 1 ms here.
 */
function mapsLine(line: string): { start: number; end: number; perms: string; offset: number; file: string } | null {
  const dash = line.indexOf('-');
  const afterRange = line.indexOf(' ', dash + 1);
  const afterPerms = line.indexOf(' ', afterRange + 1);
  const afterOffset = line.indexOf(' ', afterPerms + 1);
  const afterDev = line.indexOf(' ', afterOffset + 1);
  const afterInode = line.indexOf(' ', afterDev + 1);
  if (dash < 0 || afterRange < 0 || afterPerms < 0 || afterOffset < 0 || afterDev < 0 || afterInode < 0) return null;
  let pathAt = afterInode;
  while (line[pathAt] === ' ') pathAt++;
  if (pathAt === line.length) return null;
  return {
    start: parseInt(line.slice(0, dash), 16),
    end: parseInt(line.slice(dash + 1, afterRange), 16),
    perms: line.slice(afterRange + 1, afterPerms),
    offset: parseInt(line.slice(afterPerms + 1, afterOffset), 16),
    file: `${line.slice(afterOffset + 1, afterInode)} ${line.slice(pathAt)}`,
  };
}

const AT_PHDR = 3;

/** A value of this process's auxiliary vector (pairs of 64-bit type and value). */
function auxvEntry(type: number): number {
  const auxv = readFileSync('/proc/self/auxv');
  for (let at = 0; at + 16 <= auxv.length; at += 16) {
    if (Number(auxv.readBigUInt64LE(at)) === type) return Number(auxv.readBigUInt64LE(at + 8));
  }
  throw new OciError('system', `no entry ${type} in /proc/self/auxv`);
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
    loads.push({
      writable: (ph.readUInt32LE(4) & PF_W) !== 0,
      offset: Number(ph.readBigUInt64LE(8)),
      vaddr: Number(ph.readBigUInt64LE(16)),
      memsz: Number(ph.readBigUInt64LE(40)),
    });
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
  const field = (n: number) => BigInt(ownLayoutField(n));
  const map = Buffer.alloc(104);
  const layout = [
    field(26),
    field(27), // start_code, end_code
    field(45),
    field(46), // start_data, end_data
    field(47),
    0n, // start_brk, brk
    field(28), // start_stack
    field(48),
    field(49),
    field(50),
    field(51), // arg_start, arg_end, env_start, env_end
  ];
  layout.forEach((v, i) => map.writeBigUInt64LE(v, i * 8));
  map.writeUInt32LE(fd, 100); // exe_fd
  return map;
}
