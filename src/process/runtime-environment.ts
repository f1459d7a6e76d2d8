// A forked child starts with the runtime's environment: the C library's
// `environ` and, below the stack, the strings the kernel copied at execve,
// which /proc/<pid>/environ shows. A container that can read its init's or an
// exec'd process's memory before they execve (CAP_SYS_PTRACE in the host's
// user namespace, or a pid namespace shared with other containers) would find
// there whatever the engine set for the runtime. So the child forgets it
// first thing: the container's processes get the environment their config
// gives, and hooks run from the child (createContainer) get an empty one, as
// runc's init, which carries only its own few variables, gives them.
import { f } from '../sys/ffi.js';
import { memset } from '../sys/libc.js';
import { ownLayoutField } from '../sys/proc.js';

export interface EnvironmentBlock {
  start: number;
  end: number;
}

/**
 * In the runtime, before the fork: where the environment strings are
 * (env_start and env_end, fields 50 and 51 of /proc/self/stat, proc(5)); the
 * child has them at the same addresses.
 */
export function environmentBlock(): EnvironmentBlock {
  void f.memset; // declared here: in the child, declaring it would allocate and touch pages
  return { start: Number(ownLayoutField(50)), end: Number(ownLayoutField(51)) };
}

/**
 * In the forked child: an empty environment, and the strings it came with
 * zeroed. unsetenv(3) for each name, not clearenv(3), which leaves `environ`
 * NULL where libuv (process.env's enumeration) expects an empty array.
 */
export function forgetRuntimeEnvironment(block: EnvironmentBlock): void {
  for (const name of Object.keys(process.env)) delete process.env[name];
  if (block.end > block.start) memset(block.start, 0, block.end - block.start);
}
