// process.rlimits through prlimit(2). Raising a hard limit needs
// CAP_SYS_RESOURCE in the initial user namespace (setrlimit(2), EPERM).
import { SysError } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { OciError } from '../errors.js';

/** The resources of getrlimit(2), in the kernel's numbering (asm-generic/resource.h). */
export const RLIMIT_NAMES = [
  'RLIMIT_CPU',
  'RLIMIT_FSIZE',
  'RLIMIT_DATA',
  'RLIMIT_STACK',
  'RLIMIT_CORE',
  'RLIMIT_RSS',
  'RLIMIT_NPROC',
  'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK',
  'RLIMIT_AS',
  'RLIMIT_LOCKS',
  'RLIMIT_SIGPENDING',
  'RLIMIT_MSGQUEUE',
  'RLIMIT_NICE',
  'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
] as const;

const RLIM_INFINITY = 0xffffffffffffffffn;

/** JSON numbers above 2^53 arrive rounded: anything at 2^64-1 or beyond means unlimited. */
export function toRlim(value: number): bigint {
  return value >= 1.8446744073709552e19 ? RLIM_INFINITY : BigInt(Math.trunc(value));
}

export function applyRlimits(kernel: Kernel, rlimits: { type: string; soft: number; hard: number }[] = []): void {
  for (const { type, soft, hard } of rlimits) {
    const resource = RLIMIT_NAMES.indexOf(type as (typeof RLIMIT_NAMES)[number]);
    try {
      kernel.prlimit(0, resource, toRlim(soft), toRlim(hard), type);
    } catch (err) {
      if (err instanceof SysError && err.code === 'EPERM') {
        throw new OciError(
          'container-init',
          `${type}: raising the hard limit to ${hard} needs CAP_SYS_RESOURCE, which the host does not give to ocirun (EPERM); lower process.rlimits`,
          [],
          { cause: err },
        );
      }
      throw err;
    }
  }
}
