// Loading a compiled filter, in the init: one seccomp(2) call with the
// program the runtime built before the fork (the init may no longer see the
// host's libraries once it is inside the container's root).
import type { CompiledSeccomp } from './compile.js';
import { wrap } from '../errors.js';
import { seccompSetModeFilter } from '../sys/libc.js';

/** Loads the filter into the calling process; returns the notify fd, or -1 when no rule notifies. */
export function loadSeccomp(compiled: CompiledSeccomp): number {
  let fd: number;
  try {
    fd = seccompSetModeFilter(compiled.program, compiled.filterFlags);
  } catch (err) {
    throw wrap(err, 'linux.seccomp: loading the filter');
  }
  return compiled.notify ? fd : -1;
}
