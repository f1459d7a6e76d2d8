// Thin koffi bindings to the C library and raw system calls. Every call that
// can fail goes through `check`, which turns -1/errno into a SysError naming
// the call and its subject, so callers never inspect errno themselves.
import { SYS } from './arch.js';
import { OciError } from '../errors.js';

type Koffi = typeof import('koffi');
type Library = ReturnType<Koffi['load']>;
type KoffiFunction = ReturnType<Library['func']>;

// koffi and the C library load on first use, not on import: `state`, `list`
// and `kill` never call into C and skip the native addon's load.
let loaded: { koffi: Koffi; libc: Library } | undefined;
function load(): { koffi: Koffi; libc: Library } {
  if (!loaded) {
    const k = loadKoffiAddon();
    loaded = { koffi: k, libc: k.load('libc.so.6') };
    clone3Call = loaded.libc.func('syscall', 'long', ['long', 'void *', 'size_t']);
  }
  return loaded;
}

/**
 * koffi's native addon, loaded directly where npm installed it next to the
 * bundle (dist/../node_modules): about 1 ms, where koffi's entry point takes
 * over 10 ms to find its package and wrap the addon in deprecated aliases
 * this code does not use. Anywhere else, the entry point finds it.
 */
function loadKoffiAddon(): Koffi {
  const arch = process.arch;
  const addon = `${__dirname}/../node_modules/@koromix/koffi-linux-${arch}/linux_${arch}/koffi.node`;
  try {
    const module = { exports: {} as Koffi };
    process.dlopen(module, addon);
    return module.exports;
  } catch {
    return require('koffi');
  }
}

/** An object made by `make` on its first property access; methods stay bound to it. */
function lazy<T extends object>(make: () => T, bindMethods: boolean): T {
  let value: T | undefined;
  return new Proxy({} as T, {
    get(_, key) {
      value ??= make();
      const v = Reflect.get(value, key);
      return bindMethods && typeof v === 'function' ? v.bind(value) : v;
    },
  });
}
const koffi = lazy(() => load().koffi, true);
const libc = lazy(() => load().libc, true);

// Linux's errno numbers (asm-generic errno-base.h and errno.h: the same on
// x86_64 and aarch64) with the names node:os gives them, whose load would
// cost state, start and delete most of a millisecond. A unit test checks
// the table against node:os.
const ERRNO_TABLE =
  '1:EPERM 2:ENOENT 3:ESRCH 4:EINTR 5:EIO 6:ENXIO 7:E2BIG 8:ENOEXEC 9:EBADF 10:ECHILD 11:EWOULDBLOCK ' +
  '12:ENOMEM 13:EACCES 14:EFAULT 16:EBUSY 17:EEXIST 18:EXDEV 19:ENODEV 20:ENOTDIR 21:EISDIR 22:EINVAL ' +
  '23:ENFILE 24:EMFILE 25:ENOTTY 26:ETXTBSY 27:EFBIG 28:ENOSPC 29:ESPIPE 30:EROFS 31:EMLINK 32:EPIPE ' +
  '33:EDOM 34:ERANGE 35:EDEADLK 36:ENAMETOOLONG 37:ENOLCK 38:ENOSYS 39:ENOTEMPTY 40:ELOOP 42:ENOMSG ' +
  '43:EIDRM 60:ENOSTR 61:ENODATA 62:ETIME 63:ENOSR 67:ENOLINK 71:EPROTO 72:EMULTIHOP 74:EBADMSG ' +
  '75:EOVERFLOW 84:EILSEQ 88:ENOTSOCK 89:EDESTADDRREQ 90:EMSGSIZE 91:EPROTOTYPE 92:ENOPROTOOPT ' +
  '93:EPROTONOSUPPORT 95:EOPNOTSUPP 97:EAFNOSUPPORT 98:EADDRINUSE 99:EADDRNOTAVAIL 100:ENETDOWN ' +
  '101:ENETUNREACH 102:ENETRESET 103:ECONNABORTED 104:ECONNRESET 105:ENOBUFS 106:EISCONN 107:ENOTCONN ' +
  '110:ETIMEDOUT 111:ECONNREFUSED 113:EHOSTUNREACH 114:EALREADY 115:EINPROGRESS 116:ESTALE 122:EDQUOT ' +
  '125:ECANCELED';
let errnoNames: Map<number, string> | undefined;
/** errno → name, as node:os's constants.errno has them (for a number two names share, the latter). */
export function errnoNameMap(): Map<number, string> {
  errnoNames ??= new Map(ERRNO_TABLE.split(' ').map((entry) => {
    const [n, name] = entry.split(':');
    return [Number(n), name];
  }));
  return errnoNames;
}
const E = { EINTR: 4, ENXIO: 6, EWOULDBLOCK: 11, EINVAL: 22, ENOSYS: 38 } as const;

export class SysError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly subject?: string,
  ) {
    super(`${call}${subject ? ` ${subject}` : ''}: ${errnoName(errno)} (${strerror(errno)})`);
  }
  get code(): string {
    return errnoName(this.errno);
  }
}

export function errnoName(errno: number): string {
  return errnoNameMap().get(errno) ?? `errno ${errno}`;
}

export function strerror(errno: number): string {
  return f.strerror(errno) as string;
}

function check(result: number | bigint, call: string, subject?: string): number {
  const value = Number(result);
  if (value === -1) throw new SysError(call, koffi.errno(), subject);
  return value;
}

// C prototypes, declared with koffi on first use: declaring all of them costs
// about a millisecond that most commands would spend for two or three.
const PROTOTYPES = {
  strerror: 'const char *strerror(int errnum)',
  personality: 'int personality(unsigned long persona)',
  syscall: 'long syscall(long number, ...)',
  mount: 'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  umount2: 'int umount2(const char *target, int flags)',
  unshare: 'int unshare(int flags)',
  setns: 'int setns(int fd, int nstype)',
  sethostname: 'int sethostname(const char *name, size_t len)',
  setdomainname: 'int setdomainname(const char *name, size_t len)',
  open: 'int open(const char *path, int flags, uint32_t mode)',
  openat: 'int openat(int dirfd, const char *path, int flags, uint32_t mode)',
  close: 'int close(int fd)',
  read: 'long read(int fd, _Out_ uint8_t *buf, size_t count)',
  write: 'long write(int fd, const uint8_t *buf, size_t count)',
  mkdirat: 'int mkdirat(int dirfd, const char *path, uint32_t mode)',
  mknodat: 'int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)',
  unlinkat: 'int unlinkat(int dirfd, const char *path, int flags)',
  symlinkat: 'int symlinkat(const char *target, int dirfd, const char *linkpath)',
  linkat: 'int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)',
  lseek: 'long lseek(int fd, long offset, int whence)',
  readlinkat: 'long readlinkat(int dirfd, const char *path, _Out_ uint8_t *buf, size_t size)',
  fchownat: 'int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)',
  fchmod: 'int fchmod(int fd, uint32_t mode)',
  fchmodat: 'int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)',
  mkfifo: 'int mkfifo(const char *path, uint32_t mode)',
  fcntl: 'int fcntl(int fd, int cmd, ...)',
  dup3: 'int dup3(int oldfd, int newfd, int flags)',
  flock: 'int flock(int fd, int operation)',
  chdir: 'int chdir(const char *path)',
  getcwd: 'void *getcwd(_Out_ uint8_t *buf, size_t size)',
  fchdir: 'int fchdir(int fd)',
  chroot: 'int chroot(const char *path)',
  umask: 'uint32_t umask(uint32_t mask)',
  execve: 'int execve(const char *path, const char **argv, const char **envp)',
  exit: 'void _exit(int status)',
  setsid: 'int setsid()',
  setresuid: 'int setresuid(uint32_t r, uint32_t e, uint32_t s)',
  setresgid: 'int setresgid(uint32_t r, uint32_t e, uint32_t s)',
  setgroups: 'int setgroups(size_t size, const uint32_t *list)',
  prctl: 'int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)',
  prlimit: 'int prlimit(int pid, int resource, const uint64_t *newLimit, _Out_ uint64_t *oldLimit)',
  kill: 'int kill(int pid, int sig)',
  waitpid: 'int waitpid(int pid, _Out_ int *status, int options)',
  getpid: 'int getpid()',
  madvise: 'int madvise(uintptr_t addr, size_t len, int advice)',
  signal: 'uintptr_t signal(int sig, uintptr_t handler)',
  sigprocmask: 'int sigprocmask(int how, const uint8_t *set, _Out_ uint8_t *old)',
  poll: 'int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)',
  ioctl: 'int ioctl(int fd, unsigned long request, ...)',
  socket: 'int socket(int domain, int type, int protocol)',
  connect: 'int connect(int fd, const uint8_t *addr, uint32_t len)',
  bind: 'int bind(int fd, const uint8_t *addr, uint32_t len)',
  recv: 'long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)',
  sendto: 'long sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)',
  statfs: 'int statfs(const char *path, _Out_ uint8_t *buf)',
  statx: 'int statx(int dirfd, const char *path, int flags, uint32_t mask, _Out_ uint8_t *buf)',
  fstatfs: 'int fstatfs(int fd, _Out_ uint8_t *buf)',
  socketpair: 'int socketpair(int domain, int type, int protocol, _Out_ int *sv)',
  getdents64: 'long getdents64(int fd, _Out_ uint8_t *buf, size_t count)',
  prctlStruct: 'int prctl(int option, unsigned long a2, _Inout_ uint8_t *a3, unsigned long a4, unsigned long a5)',
  mmap: 'intptr_t mmap(uintptr_t addr, size_t len, int prot, int flags, int fd, long offset)',
  mprotect: 'int mprotect(uintptr_t addr, size_t len, int prot)',
  memcpy: 'uintptr_t memcpy(uintptr_t dest, uintptr_t src, size_t n)',
  pread: 'long pread(int fd, _Out_ uint8_t *buf, size_t count, long offset)',
  // syscall(2) with fixed argument types, for calls made in the forked child.
  mremap: 'intptr_t syscall(long nr, uintptr_t from, size_t length, size_t newLength, int flags, uintptr_t to)',
  brk: 'uintptr_t syscall(long nr, uintptr_t addr)',
} as const;

const declared = new Map<string, KoffiFunction>();
const f = new Proxy({} as Record<keyof typeof PROTOTYPES, KoffiFunction>, {
  get(_, name: keyof typeof PROTOTYPES) {
    let fn = declared.get(name);
    if (!fn) declared.set(name, (fn = libc.func(PROTOTYPES[name])));
    return fn;
  },
});

export const O = {
  RDONLY: 0o0, WRONLY: 0o1, RDWR: 0o2, CREAT: 0o100, EXCL: 0o200, NOCTTY: 0o400, TRUNC: 0o1000,
  NONBLOCK: 0o4000, DIRECTORY: 0o200000, NOFOLLOW: 0o400000, CLOEXEC: 0o2000000, PATH: 0o10000000,
} as const;

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20,
  MANDLOCK: 0x40, DIRSYNC: 0x80, NOSYMFOLLOW: 0x100, NOATIME: 0x400, NODIRATIME: 0x800,
  BIND: 0x1000, MOVE: 0x2000, REC: 0x4000, SILENT: 0x8000, UNBINDABLE: 0x20000, PRIVATE: 0x40000,
  SLAVE: 0x80000, SHARED: 0x100000, RELATIME: 0x200000, I_VERSION: 0x800000, STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

export const CLONE = {
  NEWTIME: 0x80, VM: 0x100, FS: 0x200, FILES: 0x400, SIGHAND: 0x800, PIDFD: 0x1000,
  PARENT: 0x8000, NEWNS: 0x20000, SYSVSEM: 0x40000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000,
  NEWIPC: 0x8000000, NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000,
  INTO_CGROUP: 0x200000000,
} as const;

export const SIGCHLD = 17;
export const MNT_DETACH = 2;
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export const AT_RECURSIVE = 0x8000;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const FD_CLOEXEC = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const WNOHANG = 1;
export const PR = {
  SET_PDEATHSIG: 1, SET_DUMPABLE: 4, SET_KEEPCAPS: 8, CAPBSET_READ: 23, CAPBSET_DROP: 24, SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38, CAP_AMBIENT: 47, CAP_AMBIENT_RAISE: 2, CAP_AMBIENT_CLEAR_ALL: 4,
  SET_MM: 35, SET_MM_MAP: 14,
} as const;
export const RESOLVE = { NO_XDEV: 0x1, NO_MAGICLINKS: 0x2, NO_SYMLINKS: 0x4, BENEATH: 0x8, IN_ROOT: 0x10 } as const;
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
  check(f.mount(source, target, fstype, flags, data), 'mount', target);
}
export function umount2(target: string, flags: number): void {
  check(f.umount2(target, flags), 'umount', target);
}
export function unshare(flags: number): void {
  check(f.unshare(flags), 'unshare');
}
export function setns(fd: number, nstype: number, subject?: string): void {
  check(f.setns(fd, nstype), 'setns', subject);
}
export function sethostname(name: string): void {
  check(f.sethostname(name, Buffer.byteLength(name)), 'sethostname');
}
export function setdomainname(name: string): void {
  check(f.setdomainname(name, Buffer.byteLength(name)), 'setdomainname');
}
export function open(path: string, flags: number, mode = 0): number {
  return check(f.open(path, flags, mode), 'open', path);
}
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(f.openat(dirfd, path, flags, mode), 'open', path);
}
export function close(fd: number): void {
  f.close(fd);
}
export function read(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (;;) {
    const n = Number(f.read(fd, buf, size));
    if (n >= 0) return buf.subarray(0, n);
    if (koffi.errno() !== E.EINTR) throw new SysError('read', koffi.errno());
  }
}
export function write(fd: number, data: Buffer | string): number {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  for (;;) {
    const n = Number(f.write(fd, buf, buf.length));
    if (n >= 0) return n;
    if (koffi.errno() !== E.EINTR) throw new SysError('write', koffi.errno());
  }
}
export function mkdirat(dirfd: number, path: string, mode: number): void {
  check(f.mkdirat(dirfd, path, mode), 'mkdir', path);
}
export function mknodat(dirfd: number, path: string, mode: number, dev: bigint): void {
  check(f.mknodat(dirfd, path, mode, dev), 'mknod', path);
}
export function symlinkat(target: string, dirfd: number, path: string): void {
  check(f.symlinkat(target, dirfd, path), 'symlink', path);
}
export function linkat(oldDirfd: number, oldPath: string, newDirfd: number, newPath: string, flags: number): void {
  check(f.linkat(oldDirfd, oldPath, newDirfd, newPath, flags), 'link', newPath);
}
export const SEEK = { SET: 0, END: 2, DATA: 3, HOLE: 4 } as const;
/** lseek(2); null where SEEK_DATA finds no data past `offset` (ENXIO). */
export function lseek(fd: number, offset: number, whence: number): number | null {
  const r = Number(f.lseek(fd, offset, whence));
  if (r === -1 && koffi.errno() === E.ENXIO && whence === SEEK.DATA) return null;
  return check(r, 'lseek');
}
export function unlinkat(dirfd: number, path: string, flags: number): void {
  check(f.unlinkat(dirfd, path, flags), 'unlink', path);
}
export function readlinkat(dirfd: number, path: string): string {
  const buf = Buffer.alloc(4096);
  const n = check(f.readlinkat(dirfd, path, buf, buf.length), 'readlink', path);
  return buf.subarray(0, n).toString();
}
export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
  check(f.fchownat(dirfd, path, uid, gid, flags), 'chown', path);
}
export function fchmod(fd: number, mode: number): void {
  check(f.fchmod(fd, mode), 'chmod');
}
export function fchmodat(dirfd: number, path: string, mode: number): void {
  check(f.fchmodat(dirfd, path, mode, 0), 'chmod', path);
}

export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  /** Device number of a device node (st_rdev). */
  rdev: bigint;
  nlink: number;
  /** The file's identity: device "major:minor" and inode number. */
  dev: string;
  ino: bigint;
}
/** statx(2) of `path` relative to `dirfd` ('' with AT_EMPTY_PATH: the fd itself, O_PATH ones too). */
export function statAt(dirfd: number, path: string, flags: number): FileStat {
  const buf = Buffer.alloc(256);
  check(f.statx(dirfd, path, flags, 0x7ff /* STATX_BASIC_STATS */, buf), 'stat', path || `fd ${dirfd}`);
  const rdevMajor = buf.readUInt32LE(128);
  const rdevMinor = buf.readUInt32LE(132);
  return {
    mode: buf.readUInt16LE(28),
    uid: buf.readUInt32LE(20),
    gid: buf.readUInt32LE(24),
    rdev: (BigInt(rdevMajor & 0xfffff000) << 32n) | (BigInt(rdevMajor & 0xfff) << 8n) | (BigInt(rdevMinor & 0xffffff00) << 12n) | BigInt(rdevMinor & 0xff),
    nlink: buf.readUInt32LE(16),
    dev: `${buf.readUInt32LE(136)}:${buf.readUInt32LE(140)}`,
    ino: buf.readBigUInt64LE(32),
  };
}
export function mkfifo(path: string, mode: number): void {
  check(f.mkfifo(path, mode), 'mkfifo', path);
}
export function setCloexec(fd: number, on: boolean): void {
  const flags = check(f.fcntl(fd, F_GETFD), 'fcntl', `fd ${fd}`);
  check(f.fcntl(fd, F_SETFD, 'int', on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC), 'fcntl', `fd ${fd}`);
}
export function isOpenFd(fd: number): boolean {
  return Number(f.fcntl(fd, F_GETFD)) !== -1;
}
export function dup3(oldfd: number, newfd: number, flags: number): void {
  check(f.dup3(oldfd, newfd, flags), 'dup3');
}
/** Returns false when the lock is held elsewhere and `wait` is false. */
export function flock(fd: number, wait: boolean): boolean {
  for (;;) {
    if (Number(f.flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) === 0) return true;
    const errno = koffi.errno();
    if (errno === E.EWOULDBLOCK) return false;
    if (errno !== E.EINTR) throw new SysError('flock', errno);
  }
}
export function chdir(path: string): void {
  check(f.chdir(path), 'chdir', path);
}
/** getcwd(3); glibc fails with ENOENT when the directory is not below the root (the kernel's "(unreachable)"). */
export function getcwd(): string {
  const buf = Buffer.alloc(4096);
  if (f.getcwd(buf, buf.length) === null) throw new SysError('getcwd', koffi.errno());
  return buf.subarray(0, buf.indexOf(0)).toString();
}
export function fchdir(fd: number): void {
  check(f.fchdir(fd), 'fchdir');
}
export function chroot(path: string): void {
  check(f.chroot(path), 'chroot', path);
}
export function umask(mask: number): number {
  return f.umask(mask) as number;
}
/** Only returns by throwing. */
export function execve(path: string, argv: string[], envp: string[]): never {
  f.execve(path, [...argv, null], [...envp, null]);
  throw new SysError('exec', koffi.errno(), path);
}
export function exit(status: number): never {
  f.exit(status);
  throw new OciError('internal', 'unreachable');
}
/** _exit(2), where the C library is loaded already; otherwise returns (loading it costs more than it would save). */
export function exitIfLoaded(status: number): void {
  if (loaded) exit(status);
}
export function setsid(): void {
  check(f.setsid(), 'setsid');
}
export function setresuid(uid: number): void {
  check(f.setresuid(uid, uid, uid), 'setresuid', String(uid));
}
export function setresgid(gid: number): void {
  check(f.setresgid(gid, gid, gid), 'setresgid', String(gid));
}
export function setgroups(gids: number[]): void {
  check(f.setgroups(gids.length, Uint32Array.from(gids)), 'setgroups');
}
export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  return check(f.prctl(option, a2, a3, a4, a5), 'prctl', String(option));
}
/**
 * prctl(PR_CAPBSET_READ): whether `cap` is in this process's bounding set;
 * null for a number above the kernel's last capability (EINVAL), which is no
 * failure: it is how the last one is found.
 */
export function capbsetRead(cap: number): boolean | null {
  const result = Number(f.prctl(PR.CAPBSET_READ, cap, 0, 0, 0));
  if (result !== -1) return result === 1;
  if (koffi.errno() === E.EINVAL) return null;
  throw new SysError('prctl', koffi.errno(), 'PR_CAPBSET_READ');
}
export function prlimit(pid: number, resource: number, soft: bigint, hard: bigint, subject?: string): void {
  const limits = new BigUint64Array([soft, hard]);
  check(f.prlimit(pid, resource, limits, null), 'setrlimit', subject);
}
export function kill(pid: number, sig: number): void {
  check(f.kill(pid, sig), 'kill', String(pid));
}
/** kill(2) through Node, which needs no koffi: `kill` and `delete` may not load it at all. */
export function tryKill(pid: number, sig: number | NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}
/** Returns [pid, status] or [0, 0] with WNOHANG when nothing is ready. */
export function waitpid(pid: number, options = 0): [number, number] {
  const status = [0];
  for (;;) {
    const r = Number(f.waitpid(pid, status, options));
    if (r >= 0) return [r, status[0]];
    if (koffi.errno() !== E.EINTR) throw new SysError('waitpid', koffi.errno(), String(pid));
  }
}
export function getpid(): number {
  return f.getpid() as number;
}
export function madvise(addr: number, len: number, advice: number): number {
  return Number(f.madvise(addr, len, advice));
}
export function resetSignalDisposition(sig: number): void {
  f.signal(sig, 0);
}
export function unblockAllSignals(): void {
  check(f.sigprocmask(2 /* SIG_SETMASK */, Buffer.alloc(128), Buffer.alloc(128)), 'sigprocmask');
}
/** poll one fd for events; returns revents, 0 on timeout. */
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  for (;;) {
    const r = Number(f.poll(pfd, 1, timeoutMs));
    if (r >= 0) return r === 0 ? 0 : pfd.readInt16LE(6);
    if (koffi.errno() !== E.EINTR) throw new SysError('poll', koffi.errno());
  }
}
export const POLLIN = 0x1;
export const POLLHUP = 0x10;

export function socketpair(type: number): [number, number] {
  const sv = [0, 0];
  check(f.socketpair(1 /* AF_UNIX */, type, 0, sv), 'socketpair');
  return [sv[0], sv[1]];
}
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = 0o2000000;

/** The mount flags (MS_*) of the mount holding `path`, from statfs(2) f_flags (ST_*). */
export function statfsFlags(path: string): number {
  const buf = Buffer.alloc(120);
  check(f.statfs(path, buf), 'statfs', path);
  const st = Number(buf.readBigUInt64LE(80));
  const map: [number, number][] = [
    [1, MS.RDONLY], [2, MS.NOSUID], [4, MS.NODEV], [8, MS.NOEXEC], [16, MS.SYNCHRONOUS], [64, MS.MANDLOCK],
    [1024, MS.NOATIME], [2048, MS.NODIRATIME], [4096, MS.RELATIME], [8192, MS.NOSYMFOLLOW],
  ];
  return map.reduce((acc, [stBit, msBit]) => (st & stBit ? acc | msBit : acc), 0);
}

/** ioctl(2) with a pointer argument (a buffer the kernel reads or fills). */
export function ioctl(fd: number, request: number, arg: Buffer, what: string): void {
  check(f.ioctl(fd, request, 'void *', arg), 'ioctl', what);
}
/** ioctl(2) with no argument, returning its result (e.g. NS_GET_NSTYPE, ioctl_ns(2)). */
export function ioctlResult(fd: number, request: number, what: string): number {
  return check(f.ioctl(fd, request, 'unsigned long', 0), 'ioctl', what);
}
/** f_type of the filesystem holding `path` (statfs(2)), e.g. NSFS_MAGIC. */
export function statfsType(path: string): number {
  const buf = Buffer.alloc(120);
  check(f.statfs(path, buf), 'statfs', path);
  return Number(buf.readBigInt64LE(0));
}
/** The id of the mount an fd is on (statx(2) STATX_MNT_ID, Linux 5.8), as in mountinfo's first field. */
export function mountIdOf(fd: number): number {
  const STATX_MNT_ID = 0x1000;
  const buf = Buffer.alloc(256);
  check(f.statx(fd, '', AT_EMPTY_PATH, STATX_MNT_ID, buf), 'statx');
  if ((buf.readUInt32LE(0) & STATX_MNT_ID) === 0) throw new SysError('statx', 95 /* EOPNOTSUPP */, 'STATX_MNT_ID');
  return Number(buf.readBigUInt64LE(144)); // stx_mnt_id
}
/** ioctl(2) with an integer argument; returns its result (a new fd for TIOCGPTPEER). */
export function ioctlInt(fd: number, request: number, arg: number, what: string): number {
  return check(f.ioctl(fd, request, 'unsigned long', arg), 'ioctl', what);
}
/** f_type of the filesystem holding the object behind `fd` (fstatfs(2); O_PATH fds too). */
export function fstatfsType(fd: number): number {
  const buf = Buffer.alloc(120);
  check(f.fstatfs(fd, buf), 'statfs', `fd ${fd}`);
  return Number(buf.readBigInt64LE(0));
}

/** socket(2), close-on-exec. */
export function socket(domain: number, type: number): number {
  return check(f.socket(domain, type | SOCK_CLOEXEC, 0), 'socket');
}

/**
 * struct sockaddr_un for a path, or for an abstract address written "@name"
 * (unix(7): a leading NUL byte, and no terminating one).
 */
function unixAddress(path: string): { addr: Buffer; len: number } {
  const name = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  if (name.length > 107) throw new SysError('bind', 36 /* ENAMETOOLONG */, path);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(1 /* AF_UNIX */, 0);
  name.copy(addr, 2);
  return { addr, len: 2 + name.length + (path.startsWith('@') ? 0 : 1) };
}

/** An AF_UNIX datagram socket bound to `path`, non-blocking and close-on-exec. */
export function bindUnixDatagram(path: string): number {
  const fd = check(f.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */ | SOCK_CLOEXEC | 0o4000 /* SOCK_NONBLOCK */, 0), 'socket', path);
  const { addr, len } = unixAddress(path);
  try {
    check(f.bind(fd, addr, len), 'bind', path);
  } catch (err) {
    f.close(fd);
    throw err;
  }
  return fd;
}

/** The next datagram waiting on a non-blocking socket, or null when there is none. */
export function receiveDatagram(fd: number): Buffer | null {
  const buf = Buffer.alloc(4096);
  const n = Number(f.recv(fd, buf, buf.length, 0));
  if (n >= 0) return buf.subarray(0, n);
  if (koffi.errno() === E.EWOULDBLOCK || koffi.errno() === E.EINTR) return null;
  throw new SysError('recv', koffi.errno());
}

/** One datagram from `fd` to the socket at `path` (or "@abstract"). */
export function sendDatagram(fd: number, path: string, data: Buffer): void {
  const { addr, len } = unixAddress(path);
  check(f.sendto(fd, data, data.length, 0, addr, len), 'sendto', path);
}

/** A connected AF_UNIX stream socket (close-on-exec). */
export function connectUnix(path: string): number {
  const fd = check(f.socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | SOCK_CLOEXEC, 0), 'socket', path);
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(1, 0);
  if (Buffer.byteLength(path) > 107) throw new SysError('connect', 36 /* ENAMETOOLONG */, path);
  addr.write(path, 2);
  try {
    check(f.connect(fd, addr, 2 + Buffer.byteLength(path) + 1), 'connect', path);
  } catch (err) {
    f.close(fd);
    throw err;
  }
  return fd;
}

// ---- raw system calls without glibc wrappers ----

/** clone3's struct clone_args (88 bytes, with the cgroup field), built ahead of the call. */
export function cloneArgs(flags: number, cgroupFd = -1): Buffer {
  const args = Buffer.alloc(88);
  let cloneFlags = BigInt(flags);
  if (cgroupFd >= 0) {
    cloneFlags |= BigInt(CLONE.INTO_CGROUP);
    args.writeBigUInt64LE(BigInt(cgroupFd), 80);
  }
  args.writeBigUInt64LE(cloneFlags, 0);
  args.writeBigUInt64LE(BigInt(SIGCHLD), 32); // exit_signal
  return args;
}

// A fixed prototype: a variadic koffi call allocates JavaScript objects, and
// nothing may be allocated between making the heap forkable and the clone.
// Bound in load(), which madvise() has run by then.
let clone3Call: KoffiFunction;

/**
 * clone3(2) with fork semantics (no new stack): returns the child's pid in the
 * parent and 0 in the child. Namespaces requested here are created even when
 * the caller is multithreaded, unlike unshare(2). Use forkProcess, which makes
 * the heap forkable right before.
 */
export function clone3(args: Buffer): number {
  const pid = clone3Call(SYS.clone3, args, 88) as number;
  if (pid === -1) throw new SysError('clone3', koffi.errno());
  return pid;
}

/**
 * keyctl(KEYCTL_JOIN_SESSION_KEYRING): a new session keyring, so the container
 * does not share the caller's keys (keyrings(7)). Kernels without keyrings
 * answer ENOSYS, which is not an error here (runc ignores it too).
 */
export function joinSessionKeyring(name: string): void {
  const r = Number(f.syscall(SYS.keyctl, 'int', 1, 'const char *', name));
  if (r === -1 && koffi.errno() !== E.ENOSYS) throw new SysError('keyctl', koffi.errno(), 'join session keyring');
}

/**
 * A system call by number (./arch.ts) that has no wrapper here: each argument
 * follows its koffi type ('int', fd, …); -1 becomes a SysError naming `call`.
 */
export function syscall(call: string, nr: number, typedArgs: unknown[], subject?: string): number {
  return check(f.syscall(nr, ...typedArgs), call, subject);
}

export function pivotRoot(newRoot: string, putOld: string): void {
  check(f.syscall(SYS.pivot_root, 'const char *', newRoot, 'const char *', putOld), 'pivot_root', newRoot);
}

export const CLOSE_RANGE_CLOEXEC = 4;
export function closeRange(first: number, last: number, flags = 0): void {
  check(f.syscall(SYS.close_range, 'unsigned int', first, 'unsigned int', last, 'unsigned int', flags), 'close_range');
}

/**
 * seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with `program` a struct
 * sock_filter[]; returns the listener's fd with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0.
 */
export function seccompSetModeFilter(program: Buffer, flags: number): number {
  sockFprog ??= koffi.pointer(koffi.struct('ocirun_sock_fprog', { len: 'uint16_t', filter: 'void *' }));
  const fprog = { len: program.length / 8, filter: program };
  return check(f.syscall(SYS.seccomp, 'unsigned int', 1, 'unsigned int', flags, sockFprog, fprog), 'seccomp', 'SECCOMP_SET_MODE_FILTER');
}
let sockFprog: unknown;

/**
 * The fds a /proc/<pid>/fd directory just opened at `dirFd` lists (struct
 * linux_dirent64, getdents64(2); little-endian on the architectures of arch.ts).
 */
export function fdsListedIn(dirFd: number): number[] {
  const buf = Buffer.alloc(4096);
  const fds: number[] = [];
  for (;;) {
    const n = check(f.getdents64(dirFd, buf, buf.length), 'getdents64', 'fd directory');
    if (n === 0) return fds;
    for (let at = 0; at < n; at += buf.readUInt16LE(at + 16)) {
      const name = buf.toString('latin1', at + 19, buf.indexOf(0, at + 19));
      if (/^\d+$/.test(name)) fds.push(Number(name));
    }
  }
}

/** openat2(2); ENOSYS on kernels before 5.6. */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  return check(
    f.syscall(SYS.openat2, 'int', dirfd, 'const char *', path, 'void *', how, 'size_t', how.length),
    'open',
    path,
  );
}

/** One entry of a directory, from getdents64(2): its name and d_type (DT_*; 0 when the filesystem does not say). */
export interface DirEntry {
  name: string;
  type: number;
}
export const DT = { FIFO: 1, CHR: 2, DIR: 4, BLK: 6, REG: 8, LNK: 10, SOCK: 12 } as const;
/** Every entry of the directory open at `fd` but "." and "..". */
export function readDirectory(fd: number): DirEntry[] {
  const entries: DirEntry[] = [];
  const buf = Buffer.alloc(32768);
  for (;;) {
    const n = check(f.syscall(SYS.getdents64, 'int', fd, 'void *', buf, 'size_t', buf.length), 'getdents');
    if (n === 0) return entries;
    for (let off = 0; off < n; ) {
      const reclen = buf.readUInt16LE(off + 16);
      const nameEnd = buf.indexOf(0, off + 19);
      const name = buf.toString('utf8', off + 19, nameEnd);
      if (name !== '.' && name !== '..') entries.push({ name, type: buf.readUInt8(off + 18) });
      off += reclen;
    }
  }
}

// ---- the mount API: detached mounts whose flags are set before they are attached ----
// open_tree, move_mount, fsopen, fsconfig, fsmount: Linux 5.2; mount_setattr: 5.12.

export const OPEN_TREE_CLONE = 1;
export const MOVE_MOUNT = { F_EMPTY_PATH: 0x4, T_EMPTY_PATH: 0x40 } as const;
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, ATIME_MASK: 0x70, RELATIME: 0x0, NOATIME: 0x10, STRICTATIME: 0x20,
  NODIRATIME: 0x80, IDMAP: 0x100000, NOSYMFOLLOW: 0x200000,
} as const;
const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;

/** move_mount(2) of the mount at `fromFd` onto the object `toFd` names (both fds, no path lookup). */
export function moveMountFd(fromFd: number, toFd: number): void {
  check(
    f.syscall(SYS.move_mount, 'int', fromFd, 'const char *', '', 'int', toFd, 'const char *', '', 'unsigned int', MOVE_MOUNT.F_EMPTY_PATH | MOVE_MOUNT.T_EMPTY_PATH),
    'move_mount',
  );
}
/**
 * mount_setattr(2) on the mount `fd` names; with AT_RECURSIVE its submounts
 * too. `usernsFd` goes with MOUNT_ATTR_IDMAP in `set`.
 */
export function mountSetattr(fd: number, flags: number, attr: { set: number; clear: number; propagation?: number; usernsFd?: number }): void {
  const buf = Buffer.alloc(32);
  buf.writeBigUInt64LE(BigInt(attr.set), 0);
  buf.writeBigUInt64LE(BigInt(attr.clear), 8);
  buf.writeBigUInt64LE(BigInt(attr.propagation ?? 0), 16);
  buf.writeBigUInt64LE(BigInt(attr.usernsFd ?? 0), 24);
  check(
    f.syscall(SYS.mount_setattr, 'int', fd, 'const char *', '', 'unsigned int', flags | AT_EMPTY_PATH, 'void *', buf, 'size_t', buf.length),
    'mount_setattr',
  );
}
/** fsconfig(2) with a string value, or a flag when `value` is null. */
export function fsconfigSet(fsfd: number, key: string, value: string | null): void {
  const r = value === null
    ? f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.SET_FLAG, 'const char *', key, 'const char *', null, 'int', 0)
    : f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.SET_STRING, 'const char *', key, 'const char *', value, 'int', 0);
  checkFs(r, fsfd, value === null ? key : `${key}=${value}`);
}
/** fsconfig(FSCONFIG_CMD_CREATE) then fsmount(2): the new filesystem as a detached mount with `attrs` (MOUNT_ATTR_*). */
export function fsCreateAndMount(fsfd: number, attrs: number, subject: string): number {
  checkFs(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.CMD_CREATE, 'const char *', null, 'const char *', null, 'int', 0), fsfd, subject);
  return checkFs(f.syscall(SYS.fsmount, 'int', fsfd, 'unsigned int', 1 /* FSMOUNT_CLOEXEC */, 'unsigned int', attrs), fsfd, subject);
}
/** A failed fsconfig/fsmount explains itself in messages read from the context's fd ("e tmpfs: Bad value for 'mode'"). */
function checkFs(result: number | bigint, fsfd: number, subject: string): number {
  if (Number(result) !== -1) return Number(result);
  const errno = koffi.errno();
  const messages: string[] = [];
  const buf = Buffer.alloc(1024);
  for (;;) {
    const n = Number(f.read(fsfd, buf, buf.length));
    if (n <= 0) break;
    messages.push(buf.subarray(0, n).toString().replace(/^[ewi] /, ''));
  }
  throw new SysError('fsconfig', errno, messages.length > 0 ? `${subject} (${messages.join('; ')})` : subject);
}

// The mount API of Linux 5.2 (fsopen(2), fsconfig(2), fsmount(2), open_tree(2)).
export const FSOPEN_CLOEXEC = 1;
export const FSCONFIG_CMD_CREATE = 6;
export const FSMOUNT_CLOEXEC = 1;

export function fsopen(fsname: string, flags: number): number {
  return check(f.syscall(SYS.fsopen, 'const char *', fsname, 'unsigned int', flags), 'fsopen', fsname);
}
/** fsconfig(2) with no key or value (the FSCONFIG_CMD_* commands). */
export function fsconfigCommand(fsfd: number, cmd: number): void {
  check(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', cmd, 'void *', null, 'void *', null, 'int', 0), 'fsconfig');
}
/** fsconfig(2) FSCONFIG_SET_FD: `key` takes the file `fd` (an O_PATH one since Linux 6.15). */
export function fsconfigFd(fsfd: number, key: string, fd: number): void {
  check(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', 5, 'const char *', key, 'void *', null, 'int', fd), 'fsconfig', key);
}
/** fsconfig(2) FSCONFIG_SET_STRING: `key` takes the string `value`. */
export function fsconfigString(fsfd: number, key: string, value: string): void {
  check(f.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', 1, 'const char *', key, 'const char *', value, 'int', 0), 'fsconfig', key);
}
export function fsmount(fsfd: number, flags: number, attrs: number): number {
  return check(f.syscall(SYS.fsmount, 'int', fsfd, 'unsigned int', flags, 'unsigned int', attrs), 'fsmount');
}
export function openTree(dirfd: number, path: string, flags: number): number {
  return check(f.syscall(SYS.open_tree, 'int', dirfd, 'const char *', path, 'unsigned int', flags), 'open_tree', path);
}

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}
/** capset(2) with _LINUX_CAPABILITY_VERSION_3 (two 32-bit words per set). */
export function capset(sets: CapSets): void {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x20080522, 0);
  header.writeInt32LE(0, 4);
  const data = Buffer.alloc(24);
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  data.writeUInt32LE(lo(sets.effective), 0);
  data.writeUInt32LE(lo(sets.permitted), 4);
  data.writeUInt32LE(lo(sets.inheritable), 8);
  data.writeUInt32LE(hi(sets.effective), 12);
  data.writeUInt32LE(hi(sets.permitted), 16);
  data.writeUInt32LE(hi(sets.inheritable), 20);
  check(f.syscall(SYS.capset, 'void *', header, 'void *', data), 'capset');
}

// ---- process attributes: execution domain, I/O priority, scheduling ----

/** personality(2); returns the previous persona. */
export function personality(persona: number): number {
  return check(f.personality(persona), 'personality', `0x${persona.toString(16)}`);
}
/** ioprio_set(2) (IOPRIO_WHO_PROCESS = 1, who 0 = the caller). */
export function ioprioSet(which: number, who: number, ioprio: number): void {
  check(f.syscall(SYS.ioprio_set, 'int', which, 'int', who, 'int', ioprio), 'ioprio_set');
}
/** sched_setattr(2) with a struct sched_attr already laid out in `attr`. */
export function schedSetattr(pid: number, attr: Buffer, flags = 0): void {
  check(f.syscall(SYS.sched_setattr, 'int', pid, 'void *', attr, 'unsigned int', flags), 'sched_setattr');
}

export { koffi, libc };

// ---- memory mappings and a process's exe (see process/sealed-exe.ts) ----

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

// ---- posix_spawn(3), for hooks ----
// glibc runs the child on its own stack (CLONE_VM|CLONE_VFORK) and only C code
// until execve, so it is safe from the runtime and from the forked init alike,
// where fork-and-run-JavaScript is not.

const spawnFns = lazy(() => ({
  pipe2: libc.func('int pipe2(_Out_ int *fds, int flags)'),
  memfdCreate: libc.func('int memfd_create(const char *name, unsigned int flags)'),
  lseek: libc.func('long lseek(int fd, long offset, int whence)'),
  actionsInit: libc.func('int posix_spawn_file_actions_init(void *actions)'),
  actionsDup2: libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
  actionsCloseFrom: libc.func('int posix_spawn_file_actions_addclosefrom_np(void *actions, int from)'),
  actionsDestroy: libc.func('int posix_spawn_file_actions_destroy(void *actions)'),
  attrInit: libc.func('int posix_spawnattr_init(void *attr)'),
  attrSetFlags: libc.func('int posix_spawnattr_setflags(void *attr, short flags)'),
  attrSetSigDefault: libc.func('int posix_spawnattr_setsigdefault(void *attr, const uint8_t *set)'),
  attrSetSigMask: libc.func('int posix_spawnattr_setsigmask(void *attr, const uint8_t *set)'),
  attrDestroy: libc.func('int posix_spawnattr_destroy(void *attr)'),
  spawn: libc.func('int posix_spawn(_Out_ int *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)'),
}), false);

export function pipe2(flags: number): [number, number] {
  const fds = [0, 0];
  check(spawnFns.pipe2(fds, flags), 'pipe2');
  return [fds[0], fds[1]];
}

/** An anonymous file holding `data`, positioned at its start (memfd_create(2)). */
export function memfdWith(name: string, data: Buffer): number {
  const fd = check(spawnFns.memfdCreate(name, 1 /* MFD_CLOEXEC */), 'memfd_create', name);
  try {
    for (let off = 0; off < data.length; ) off += write(fd, data.subarray(off));
    check(spawnFns.lseek(fd, 0, 0 /* SEEK_SET */), 'lseek', name);
  } catch (err) {
    close(fd);
    throw err;
  }
  return fd;
}

export function setNonBlocking(fd: number): void {
  const flags = check(f.fcntl(fd, 3 /* F_GETFL */), 'fcntl', `fd ${fd}`);
  check(f.fcntl(fd, 4 /* F_SETFL */, 'int', flags | O.NONBLOCK), 'fcntl', `fd ${fd}`);
}

/**
 * Starts `path` with fds 0-2 from `stdio` and no other fd, every signal at its
 * default disposition and none blocked (an ignored SIGPIPE would otherwise
 * survive execve). Returns the pid; a failed execve is reported here.
 */
export function posixSpawn(path: string, argv: string[], envp: string[], stdio: [number, number, number]): number {
  const actions = Buffer.alloc(256); // posix_spawn_file_actions_t is 80 bytes on glibc
  const attr = Buffer.alloc(512); // posix_spawnattr_t is 336 bytes on glibc
  const spawnCheck = (r: number, call: string) => {
    if (r !== 0) throw new SysError(call, r, path);
  };
  spawnCheck(spawnFns.actionsInit(actions), 'posix_spawn_file_actions_init');
  spawnCheck(spawnFns.attrInit(attr), 'posix_spawnattr_init');
  try {
    stdio.forEach((fd, target) => spawnCheck(spawnFns.actionsDup2(actions, fd, target), 'posix_spawn_file_actions_adddup2'));
    spawnCheck(spawnFns.actionsCloseFrom(actions, 3), 'posix_spawn_file_actions_addclosefrom_np');
    spawnCheck(spawnFns.attrSetSigDefault(attr, Buffer.alloc(128, 0xff)), 'posix_spawnattr_setsigdefault');
    spawnCheck(spawnFns.attrSetSigMask(attr, Buffer.alloc(128)), 'posix_spawnattr_setsigmask');
    spawnCheck(spawnFns.attrSetFlags(attr, 0x04 /* SETSIGDEF */ | 0x08 /* SETSIGMASK */), 'posix_spawnattr_setflags');
    const pid = [0];
    spawnCheck(spawnFns.spawn(pid, path, actions, attr, [...argv, null], [...envp, null]), 'exec');
    return pid[0];
  } finally {
    spawnFns.actionsDestroy(actions);
    spawnFns.attrDestroy(attr);
  }
}
