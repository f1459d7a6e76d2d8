// System call numbers for calls glibc has no wrapper for. The numbers differ
// per architecture (asm/unistd_64.h on x86_64, asm-generic/unistd.h on arm64).
import { OciError } from '../errors.js';

const tables = {
  x64: {
    pivot_root: 155,
    capget: 125,
    capset: 126,
    clone3: 435,
    close_range: 436,
    openat2: 437,
    ioprio_set: 251,
    sched_setattr: 314,
    keyctl: 250,
    seccomp: 317,
    getdents64: 217,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    mount_setattr: 442,
    brk: 12,
    mremap: 25,
    pidfd_open: 434,
    set_mempolicy: 238,
    bpf: 321,
  },
  arm64: {
    pivot_root: 41,
    capget: 90,
    capset: 91,
    clone3: 435,
    close_range: 436,
    openat2: 437,
    ioprio_set: 30,
    sched_setattr: 274,
    keyctl: 219,
    seccomp: 277,
    getdents64: 61,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    mount_setattr: 442,
    brk: 214,
    mremap: 216,
    pidfd_open: 434,
    set_mempolicy: 237,
    bpf: 280,
  },
} as const;

function tableFor(arch: string) {
  if (arch === 'x64' || arch === 'arm64') return tables[arch];
  throw new OciError('unsupported', `ocirun does not support the ${arch} architecture yet`);
}

export const SYS = tableFor(process.arch);
