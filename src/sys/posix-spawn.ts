// posix_spawn(3), for hooks, and the pipes and memfds they are given. glibc
// runs the child on its own stack (CLONE_VM|CLONE_VFORK) and only C code
// until execve, so it is safe from the runtime and from the forked init alike,
// where fork-and-run-JavaScript is not.
import { check, f, lazy, libc, SysError } from './ffi.js';
import { close, O, write } from './files.js';

const spawnFns = lazy(
  () => ({
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
  }),
  false,
);

export function pipe2(flags: number): [number, number] {
  const fds = [0, 0];
  check(spawnFns.pipe2(fds, flags), 'pipe2');
  return [fds[0], fds[1]];
}

/** An anonymous file holding `data`, positioned at its start (memfd_create(2)). */
export function memfdWith(name: string, data: Buffer): number {
  const fd = check(spawnFns.memfdCreate(name, 1 /* MFD_CLOEXEC */), 'memfd_create', name);
  try {
    for (let off = 0; off < data.length;) off += write(fd, data.subarray(off));
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
