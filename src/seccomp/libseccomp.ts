// Bindings to libseccomp (seccomp_init(3) and friends) through koffi. The
// library is loaded on first use, so a host without it only fails for
// containers that ask for seccomp. Functions return a negative errno on
// failure (libseccomp >= 2.5); callers turn that into a message.
import { SysError, koffi } from '../sys/libc.js';
import { wrap } from '../errors.js';

export type FilterContext = unknown;

export interface ArgCompare {
  arg: number;
  op: number;
  datumA: bigint;
  datumB: bigint;
}

interface Library {
  version: string;
  apiLevel: number;
  init(defaultAction: number): FilterContext | null;
  release(ctx: FilterContext): void;
  archResolveName(name: string): number;
  archAdd(ctx: FilterContext, arch: number): number;
  attrSet(ctx: FilterContext, attr: number, value: number): number;
  syscallResolveName(name: string): number;
  ruleAdd(ctx: FilterContext, action: number, syscall: number, args: ArgCompare[]): number;
  /** The native architecture's token (an AUDIT_ARCH_* value). */
  archNative(): number;
  /** A system call's number on the architecture of `arch` (a token), or NR_SCMP_ERROR. */
  syscallResolveNameArch(arch: number, name: string): number;
  /** Writes the filter's BPF program (struct sock_filter[], host byte order) to `fd`. */
  exportBpf(ctx: FilterContext, fd: number): number;
}

/** enum scmp_filter_attr (seccomp.h). */
export const ATTR = { CTL_TSYNC: 4, CTL_LOG: 6, CTL_SSB: 7, CTL_OPTIMIZE: 8, CTL_WAITKILL: 10 } as const;

/** enum scmp_compare (seccomp.h). */
export const CMP = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
} as const;

/** The SCMP_ACT_* values (seccomp.h); ERRNO and TRACE carry 16 bits of data. */
export const ACT = {
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_KILL: 0x00000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_ALLOW: 0x7fff0000,
  SCMP_ACT_NOTIFY: 0x7fc00000,
} as const;

/** __NR_SCMP_ERROR: the name is not a system call libseccomp knows. */
export const NR_SCMP_ERROR = -1;

let library: Library | undefined;

export function libseccomp(): Library {
  library ??= bind();
  return library;
}

function bind(): Library {
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load('libseccomp.so.2');
  } catch (err) {
    throw wrap(err, 'libseccomp.so.2 cannot be loaded (install libseccomp2)', { code: 'unsupported' });
  }
  const versionStruct = koffi.struct('ocirun_scmp_version', { major: 'uint', minor: 'uint', micro: 'uint' });
  koffi.struct('ocirun_scmp_arg_cmp', { arg: 'uint', op: 'int', datum_a: 'uint64', datum_b: 'uint64' });
  const f = {
    version: lib.func('const ocirun_scmp_version *seccomp_version()'),
    apiGet: lib.func('unsigned int seccomp_api_get()'),
    init: lib.func('void *seccomp_init(uint32_t def_action)'),
    release: lib.func('void seccomp_release(void *ctx)'),
    archResolveName: lib.func('uint32_t seccomp_arch_resolve_name(const char *name)'),
    archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32_t arch_token)'),
    attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    syscallResolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAddArray: lib.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const ocirun_scmp_arg_cmp *arg_array)'),
    archNative: lib.func('uint32_t seccomp_arch_native()'),
    syscallResolveNameArch: lib.func('int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name)'),
    exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)'),
  };
  const v = koffi.decode(f.version(), versionStruct) as { major: number; minor: number; micro: number };
  return {
    version: `${v.major}.${v.minor}.${v.micro}`,
    apiLevel: Number(f.apiGet()),
    init: (defaultAction) => {
      const ctx = f.init(defaultAction);
      return ctx === null || ctx === 0 || ctx === 0n ? null : ctx;
    },
    release: (ctx) => f.release(ctx),
    archResolveName: (name) => Number(f.archResolveName(name)),
    archAdd: (ctx, arch) => Number(f.archAdd(ctx, arch)),
    attrSet: (ctx, attr, value) => Number(f.attrSet(ctx, attr, value)),
    syscallResolveName: (name) => Number(f.syscallResolveName(name)),
    ruleAdd: (ctx, action, syscall, args) =>
      Number(
        f.ruleAddArray(
          ctx,
          action,
          syscall,
          args.length,
          args.length === 0 ? null : args.map((a) => ({ arg: a.arg, op: a.op, datum_a: a.datumA, datum_b: a.datumB })),
        ),
      ),
    archNative: () => Number(f.archNative()),
    syscallResolveNameArch: (arch, name) => Number(f.syscallResolveNameArch(arch, name)),
    exportBpf: (ctx, fd) => Number(f.exportBpf(ctx, fd)),
  };
}

/** "EINVAL (Invalid argument)" for a libseccomp return value of -EINVAL. */
export function describeRc(rc: number): string {
  return new SysError('', -rc).message.replace(/^: /, '');
}
