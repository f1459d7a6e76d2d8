// The seccomp part of `ocirun features` (features-linux.md "Seccomp"): what
// this build recognizes, and which flags libseccomp and the kernel support.
import { ACT, CMP, libseccomp } from './libseccomp.js';
import { FLAG_NAMES, flagAttr } from './compile.js';

/** The architectures of runtime-spec v1.3.0 (config-linux.md), as libseccomp names them. */
const SPEC_ARCHES = [
  'SCMP_ARCH_X86',
  'SCMP_ARCH_X86_64',
  'SCMP_ARCH_X32',
  'SCMP_ARCH_ARM',
  'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64',
  'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC',
  'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE',
  'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC',
  'SCMP_ARCH_PARISC64',
  'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_LOONGARCH64',
  'SCMP_ARCH_M68K',
  'SCMP_ARCH_SH',
  'SCMP_ARCH_SHEB',
];

export interface SeccompFeatures {
  enabled: boolean;
  actions?: string[];
  operators?: string[];
  archs?: string[];
  knownFlags?: string[];
  supportedFlags?: string[];
}

export function seccompFeatures(): SeccompFeatures {
  let lib: ReturnType<typeof libseccomp>;
  try {
    lib = libseccomp();
  } catch {
    return { enabled: false };
  }
  const archs = SPEC_ARCHES.filter((a) => lib.archResolveName(a.slice('SCMP_ARCH_'.length).toLowerCase()) !== 0);
  const ctx = lib.init(ACT.SCMP_ACT_ALLOW);
  const supportedFlags = ctx === null ? [] : FLAG_NAMES.filter((flag) => lib.attrSet(ctx, flagAttr(flag), 1) === 0);
  if (ctx !== null) lib.release(ctx);
  return {
    enabled: true,
    actions: Object.keys(ACT).sort(),
    operators: Object.keys(CMP).sort(),
    archs,
    knownFlags: [...FLAG_NAMES],
    supportedFlags,
  };
}
