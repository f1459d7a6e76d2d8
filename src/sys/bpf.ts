// bpf(2), with the commands the runtime uses (enum bpf_cmd in
// include/uapi/linux/bpf.h). Each command takes its own union bpf_attr
// member, laid out by the caller.
import { SYS } from './arch.js';
import { syscall } from './libc.js';

export const BPF_CMD = { PROG_LOAD: 5, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_GET_FD_BY_ID: 13, PROG_QUERY: 16 } as const;

/** bpf(cmd, attr, size); `attrType` is the koffi type `attr` is passed as. Errors name the command: "bpf(BPF_PROG_LOAD)". */
export function bpf(cmd: keyof typeof BPF_CMD, attrType: unknown, attr: unknown, size: number): number {
  return syscall(`bpf(BPF_${cmd})`, SYS.bpf, ['int', BPF_CMD[cmd], attrType, attr, 'uint32', size]);
}
