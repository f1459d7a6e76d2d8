// Loading a compiled filter, in the init. The libseccomp bindings were made
// by the runtime before the fork (the init may no longer see the host's
// libraries once it is inside the container's root).
import type { CompiledSeccomp } from './compile.js';
import { describeRc, libseccomp } from './libseccomp.js';

/** Loads the filter into the calling process; returns the notify fd, or -1 when no rule notifies. */
export function loadSeccomp(compiled: CompiledSeccomp): number {
  const lib = libseccomp();
  const rc = lib.load(compiled.ctx);
  if (rc < 0) throw new Error(`linux.seccomp: loading the filter: ${describeRc(rc)}`);
  if (!compiled.notify) return -1;
  const fd = lib.notifyFd(compiled.ctx);
  if (fd < 0) throw new Error(`linux.seccomp: no notify fd after loading the filter: ${describeRc(fd)}`);
  return fd;
}
