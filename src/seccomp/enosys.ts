// ENOSYS for the system calls a profile is too old to know (runc does the
// same). A profile written for an older kernel denies every call it does not
// name with its default action, usually EPERM, and EPERM tells libc and
// programs that the call exists and was refused: glibc's posix_spawn does not
// fall back from clone3 to clone, nor closefrom from close_range to a loop,
// nor programs from openat2 to openat. ENOSYS is what an older kernel says,
// and they all fall back on it.
//
// "Too old to know" is judged by number, per architecture: system call tables
// only grow, so a number above every call the profile names (whatever the
// rule's action) is a call added after them. A call in a hole below the
// newest named one keeps the default action: the runtime-tools default
// profile names landlock_* (Linux 5.13), so clone3, close_range, openat2 and
// faccessat2 (5.3 to 5.8) still get its EPERM there.
//
// The check is a short classic BPF program put in front of libseccomp's: it
// loads the architecture and the call number from struct seccomp_data
// (seccomp(2)), returns ENOSYS above the newest named number, and otherwise
// jumps to the first instruction of libseccomp's program, which loads what
// it needs itself.
import type { LinuxSeccomp } from './profile.js';
import type { libseccomp } from './libseccomp.js';
import { OciError } from '../errors.js';

/** SCMP_ARCH_X32 is libseccomp's own token: the kernel reports x32 calls as x86_64 ones with this bit in the number. */
const SCMP_ARCH_X32 = 0x4000003e;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;

const SECCOMP_RET_ERRNO = 0x00050000;
const ENOSYS = 38;
/** BPF_MAXINSNS (linux/bpf_common.h): the longest program seccomp(2) takes. */
export const MAX_INSTRUCTIONS = 4096;

/** The newest call a profile names on one architecture the filter covers. */
export interface NewestNamed {
  /** AUDIT_ARCH_* as the kernel reports it in seccomp_data.arch. */
  auditArch: number;
  /** On AUDIT_ARCH_X86_64: the newest x86_64 call, and the newest x32 call (its number has X32_SYSCALL_BIT). */
  newest?: number;
  newestX32?: number;
}

/**
 * Whether the profile needs the stub: not when calls it does not name are
 * allowed anyway (ALLOW, LOG, and TRACE, whose tracer decides), nor when its
 * default errno already is ENOSYS.
 */
export function needsEnosysStub(seccomp: LinuxSeccomp): boolean {
  const permissive = ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(seccomp.defaultAction);
  const alreadyEnosys = seccomp.defaultAction === 'SCMP_ACT_ERRNO' && seccomp.defaultErrnoRet === ENOSYS;
  return !permissive && !alreadyEnosys;
}

/** Per architecture of the filter (the native one and those the profile lists), the newest call the profile names. */
export function newestNamedCalls(seccomp: LinuxSeccomp, archTokens: number[], lib: ReturnType<typeof libseccomp>): NewestNamed[] {
  const names = (seccomp.syscalls ?? []).flatMap((rule) => rule.names);
  const byAuditArch = new Map<number, NewestNamed>();
  for (const token of new Set(archTokens)) {
    let newest = -1;
    for (const name of names) newest = Math.max(newest, lib.syscallResolveNameArch(token, name));
    if (newest < 0) continue; // the profile names no call of this architecture
    const auditArch = token === SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : token;
    const entry = byAuditArch.get(auditArch) ?? { auditArch };
    if (token === SCMP_ARCH_X32) entry.newestX32 = newest;
    else entry.newest = newest;
    byAuditArch.set(auditArch, entry);
  }
  return [...byAuditArch.values()];
}

// Classic BPF (linux/bpf_common.h, linux/filter.h).
const LD_W_ABS = 0x20;
const JMP_JA = 0x05;
const JMP_JEQ_K = 0x15;
const JMP_JGT_K = 0x25;
const JMP_JSET_K = 0x45;
const RET_K = 0x06;
/** Offsets in struct seccomp_data. */
const DATA_NR = 0;
const DATA_ARCH = 4;

/** An instruction whose jumps name labels; a jump to no label falls through. */
interface Insn {
  code: number;
  k: number;
  jt?: string;
  jf?: string;
  /** For JA: the target, as k. */
  ja?: string;
}

/** The stub to put in front of libseccomp's program: empty when no architecture has a named call. */
export function enosysStub(newest: NewestNamed[]): Buffer {
  if (newest.length === 0) return Buffer.alloc(0);
  const code: (Insn | string)[] = [{ code: LD_W_ABS, k: DATA_ARCH }];
  newest.forEach((arch, i) => code.push({ code: JMP_JEQ_K, k: arch.auditArch >>> 0, jt: `arch${i}` }));
  code.push({ code: JMP_JA, k: 0, ja: 'filter' });
  newest.forEach((arch, i) => {
    code.push(`arch${i}`, { code: LD_W_ABS, k: DATA_NR });
    const above = (max: number): Insn => ({ code: JMP_JGT_K, k: max >>> 0, jt: 'enosys', jf: 'filter' });
    if (arch.auditArch !== AUDIT_ARCH_X86_64) {
      code.push(above(arch.newest!));
    } else if (arch.newestX32 === undefined) {
      code.push({ code: JMP_JSET_K, k: X32_SYSCALL_BIT, jt: 'filter' }, above(arch.newest!));
    } else if (arch.newest === undefined) {
      code.push({ code: JMP_JSET_K, k: X32_SYSCALL_BIT, jf: 'filter' }, above(arch.newestX32));
    } else {
      code.push({ code: JMP_JSET_K, k: X32_SYSCALL_BIT, jt: `x32-${i}` }, above(arch.newest), `x32-${i}`, above(arch.newestX32));
    }
  });
  code.push('enosys', { code: RET_K, k: SECCOMP_RET_ERRNO | ENOSYS }, 'filter');
  return assemble(code);
}

/** struct sock_filter[] (little-endian, as on the architectures of sys/arch.ts), the labels turned into forward offsets. */
function assemble(code: (Insn | string)[]): Buffer {
  const labels = new Map<string, number>();
  const insns: Insn[] = [];
  for (const item of code) {
    if (typeof item === 'string') labels.set(item, insns.length);
    else insns.push(item);
  }
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    const offset = (label: string | undefined, max: number): number => {
      if (label === undefined) return 0;
      const jump = labels.get(label)! - (i + 1);
      if (jump < 0 || jump > max) throw new OciError('internal', `seccomp ENOSYS stub: jump to ${label} out of range (${jump})`);
      return jump;
    };
    const at = i * 8;
    out.writeUInt16LE(insn.code, at);
    out.writeUInt8(offset(insn.jt, 255), at + 2);
    out.writeUInt8(offset(insn.jf, 255), at + 3);
    const k = insn.ja !== undefined ? offset(insn.ja, 0xffffffff) : insn.k;
    out.writeUInt32LE(k >>> 0, at + 4);
  });
  return out;
}
