// The C library through koffi: loading it (on first use), errno and SysError,
// and the C prototypes, declared on first use. Every call that can fail goes
// through `check`, which turns -1/errno into a SysError naming the call and
// its subject, so callers never inspect errno themselves.
import { SYS } from './arch.js';

type Koffi = typeof import('koffi');
type Library = ReturnType<Koffi['load']>;
type KoffiFunction = ReturnType<Library['func']>;

// koffi and the C library load on first use, not on import: `state`, `list`
// and `kill` never call into C and skip the native addon's load.
export let loaded: { koffi: Koffi; libc: Library } | undefined;
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
export function lazy<T extends object>(make: () => T, bindMethods: boolean): T {
  let value: T | undefined;
  return new Proxy({} as T, {
    get(_, key) {
      value ??= make();
      const v = Reflect.get(value, key);
      return bindMethods && typeof v === 'function' ? v.bind(value) : v;
    },
  });
}
export const koffi = lazy(() => load().koffi, true);
export const libc = lazy(() => load().libc, true);

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
  errnoNames ??= new Map(
    ERRNO_TABLE.split(' ').map((entry) => {
      const [n, name] = entry.split(':');
      return [Number(n), name];
    }),
  );
  return errnoNames;
}
export const E = { ENOENT: 2, EINTR: 4, ENXIO: 6, EWOULDBLOCK: 11, EXDEV: 18, ENOTDIR: 20, EINVAL: 22, ENOSYS: 38, ELOOP: 40 } as const;

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

export function check(result: number | bigint, call: string, subject?: string): number {
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
  memset: 'uintptr_t memset(uintptr_t s, int c, size_t n)',
  pread: 'long pread(int fd, _Out_ uint8_t *buf, size_t count, long offset)',
  // syscall(2) with fixed argument types, for calls made in the forked child.
  mremap: 'intptr_t syscall(long nr, uintptr_t from, size_t length, size_t newLength, int flags, uintptr_t to)',
  brk: 'uintptr_t syscall(long nr, uintptr_t addr)',
} as const;

const declared = new Map<string, KoffiFunction>();
export const f = new Proxy({} as Record<keyof typeof PROTOTYPES, KoffiFunction>, {
  get(_, name: keyof typeof PROTOTYPES) {
    let fn = declared.get(name);
    if (!fn) declared.set(name, (fn = libc.func(PROTOTYPES[name])));
    return fn;
  },
});

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
 * A system call by number (./arch.ts) that has no wrapper here: each argument
 * follows its koffi type ('int', fd, …); -1 becomes a SysError naming `call`.
 */
export function syscall(call: string, nr: number, typedArgs: unknown[], subject?: string): number {
  return check(f.syscall(nr, ...typedArgs), call, subject);
}
