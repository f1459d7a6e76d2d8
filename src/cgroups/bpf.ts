// Device access on cgroup v2: an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup (the v2 devices
// controller is this program). It is generated here as raw instructions from
// the emulated rule state (./devices.ts), loaded with bpf(BPF_PROG_LOAD) and
// attached with bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE) to the cgroup's
// directory fd. Instruction encoding: Documentation/bpf/standardization/
// instruction-set.rst; the context: struct bpf_cgroup_dev_ctx in
// include/uapi/linux/bpf.h.
import { closeSync, openSync, constants as fsc } from 'node:fs';
import { OciError, wrap } from '../errors.js';
import { bpf } from '../sys/bpf.js';
import { koffi } from '../sys/libc.js';
import type { DeviceState } from './devices.js';

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Instruction classes, sizes, modes, operations (linux/bpf_common.h, linux/bpf.h).
export const BPF = {
  LDX: 0x01,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  W: 0x00,
  MEM: 0x60,
  K: 0x00,
  X: 0x08,
  AND: 0x50,
  RSH: 0x70,
  MOV: 0xb0,
  JEQ: 0x10,
  JNE: 0x50,
  EXIT: 0x90,
} as const;

/** struct bpf_cgroup_dev_ctx: u32 access_type (access << 16 | type), u32 major, u32 minor. */
export const DEVCG = { DEV_BLOCK: 1, DEV_CHAR: 2, ACC_MKNOD: 1, ACC_READ: 2, ACC_WRITE: 4 } as const;

const R0 = 0,
  R1 = 1,
  R2 = 2,
  R3 = 3,
  R4 = 4,
  R5 = 5;

const ldxw = (dst: number, src: number, off: number): Insn => ({ code: BPF.LDX | BPF.MEM | BPF.W, dst, src, off, imm: 0 });
const alu32Imm = (op: number, dst: number, imm: number): Insn => ({ code: BPF.ALU | op | BPF.K, dst, src: 0, off: 0, imm });
const mov32Reg = (dst: number, src: number): Insn => ({ code: BPF.ALU | BPF.MOV | BPF.X, dst, src, off: 0, imm: 0 });
const jmp32Imm = (op: number, dst: number, imm: number): Insn => ({ code: BPF.JMP32 | op | BPF.K, dst, src: 0, off: 0, imm });
const jmp32Reg = (op: number, dst: number, src: number): Insn => ({ code: BPF.JMP32 | op | BPF.X, dst, src, off: 0, imm: 0 });
const exit = (): Insn => ({ code: BPF.JMP | BPF.EXIT, dst: 0, src: 0, off: 0, imm: 0 });

function accessBits(access: string): number {
  let bits = 0;
  if (access.includes('r')) bits |= DEVCG.ACC_READ;
  if (access.includes('w')) bits |= DEVCG.ACC_WRITE;
  if (access.includes('m')) bits |= DEVCG.ACC_MKNOD;
  return bits;
}
const ALL_ACCESS = DEVCG.ACC_READ | DEVCG.ACC_WRITE | DEVCG.ACC_MKNOD;

/**
 * The program for a device state: the exceptions in order, each a block that
 * returns its verdict when the request matches and falls through otherwise,
 * then the default verdict. An allow exception matches when it covers every
 * access asked for; a deny exception when it covers any of them (as v1 does).
 * Returns 1 to allow, 0 to deny.
 */
export function deviceProgram(state: DeviceState): Insn[] {
  const insns: Insn[] = [
    ldxw(R2, R1, 0),
    alu32Imm(BPF.AND, R2, 0xffff), // R2 = device type
    ldxw(R3, R1, 0),
    alu32Imm(BPF.RSH, R3, 16), // R3 = access asked for
    ldxw(R4, R1, 4), // R4 = major
    ldxw(R5, R1, 8), // R5 = minor
  ];
  for (const rule of state.exceptions) {
    if (rule.type === 'a') throw new OciError('internal', 'internal error: a wildcard-type rule among device exceptions');
    const block: Insn[] = [];
    const skips: number[] = []; // indexes (in block) of jumps to the next block
    const skip = (insn: Insn) => {
      skips.push(block.length);
      block.push(insn);
    };
    skip(jmp32Imm(BPF.JNE, R2, rule.type === 'b' ? DEVCG.DEV_BLOCK : DEVCG.DEV_CHAR));
    const bits = accessBits(rule.access);
    if (rule.allow && bits !== ALL_ACCESS) {
      block.push(mov32Reg(R1, R3), alu32Imm(BPF.AND, R1, bits));
      skip(jmp32Reg(BPF.JNE, R1, R3)); // something asked for is not covered
    } else if (!rule.allow && bits !== ALL_ACCESS) {
      block.push(mov32Reg(R1, R3), alu32Imm(BPF.AND, R1, bits));
      skip(jmp32Imm(BPF.JEQ, R1, 0)); // nothing asked for is denied here
    }
    if (rule.major >= 0) skip(jmp32Imm(BPF.JNE, R4, rule.major | 0));
    if (rule.minor >= 0) skip(jmp32Imm(BPF.JNE, R5, rule.minor | 0));
    block.push(alu32Imm(BPF.MOV, R0, rule.allow ? 1 : 0), exit());
    for (const i of skips) block[i].off = block.length - (i + 1);
    insns.push(...block);
  }
  insns.push(alu32Imm(BPF.MOV, R0, state.defaultAllow ? 1 : 0), exit());
  return insns;
}

/** 8 bytes per instruction: opcode, dst (low nibble) and src registers, signed 16-bit offset, signed 32-bit immediate. */
export function encode(insns: Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    buf.writeUInt8(insn.code, i * 8);
    buf.writeUInt8(((insn.src & 0xf) << 4) | (insn.dst & 0xf), i * 8 + 1);
    buf.writeInt16LE(insn.off, i * 8 + 2);
    buf.writeInt32LE(insn.imm | 0, i * 8 + 4);
  });
  return buf;
}

export function decode(buf: Buffer): Insn[] {
  const insns: Insn[] = [];
  for (let i = 0; i + 8 <= buf.length; i += 8) {
    const regs = buf.readUInt8(i + 1);
    insns.push({ code: buf.readUInt8(i), dst: regs & 0xf, src: regs >> 4, off: buf.readInt16LE(i + 2), imm: buf.readInt32LE(i + 4) });
  }
  return insns;
}

/** One line per instruction in the kernel verifier's notation, for tests and --debug. */
export function disassemble(insns: Insn[]): string[] {
  return insns.map((x, pc) => {
    const cls = x.code & 0x07;
    const op = x.code & 0xf0;
    const srcReg = (x.code & 0x08) !== 0;
    const w = (r: number) => `w${r}`;
    if (cls === BPF.LDX) return `r${x.dst} = *(u32 *)(r${x.src} + ${x.off})`;
    if (cls === BPF.ALU) {
      const sym = op === BPF.AND ? '&=' : op === BPF.RSH ? '>>=' : op === BPF.MOV ? '=' : `op${op.toString(16)}`;
      return `${w(x.dst)} ${sym} ${srcReg ? w(x.src) : x.imm}`;
    }
    if (x.code === (BPF.JMP | BPF.EXIT)) return 'exit';
    if (cls === BPF.JMP32) {
      const sym = op === BPF.JNE ? '!=' : op === BPF.JEQ ? '==' : `op${op.toString(16)}`;
      return `if ${w(x.dst)} ${sym} ${srcReg ? w(x.src) : x.imm} goto pc+${x.off} (${pc + 1 + x.off})`;
    }
    return `unknown 0x${x.code.toString(16)}`;
  });
}

/**
 * Runs a program on one request, the way the kernel would, for tests: the
 * small subset of instructions deviceProgram emits.
 */
export function evaluate(insns: Insn[], request: { type: 'b' | 'c'; major: number; minor: number; access: string }): number {
  const regs = new Array<number>(11).fill(0);
  const ctx = [(accessBits(request.access) << 16) | (request.type === 'b' ? DEVCG.DEV_BLOCK : DEVCG.DEV_CHAR), request.major, request.minor];
  for (let pc = 0, steps = 0; pc < insns.length && steps < 4096; pc++, steps++) {
    const x = insns[pc];
    const cls = x.code & 0x07;
    const op = x.code & 0xf0;
    const operand = (x.code & 0x08) !== 0 ? regs[x.src] : x.imm >>> 0;
    if (cls === BPF.LDX) regs[x.dst] = ctx[x.off / 4] >>> 0;
    else if (cls === BPF.ALU) {
      if (op === BPF.AND) regs[x.dst] = (regs[x.dst] & operand) >>> 0;
      else if (op === BPF.RSH) regs[x.dst] = regs[x.dst] >>> operand;
      else if (op === BPF.MOV) regs[x.dst] = operand >>> 0;
      else throw new OciError('internal', `evaluate: ALU op 0x${op.toString(16)}`);
    } else if (x.code === (BPF.JMP | BPF.EXIT)) return regs[R0];
    else if (cls === BPF.JMP32) {
      const taken = op === BPF.JNE ? regs[x.dst] !== operand : op === BPF.JEQ ? regs[x.dst] === operand : undefined;
      if (taken === undefined) throw new OciError('internal', `evaluate: jump op 0x${op.toString(16)}`);
      if (taken) pc += x.off;
    } else throw new OciError('internal', `evaluate: instruction 0x${x.code.toString(16)}`);
  }
  throw new OciError('internal', 'evaluate: the program did not exit');
}

// ---- loading and attaching (bpf(2), ../sys/bpf.ts) ----

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;

let LoadAttr: unknown;

/**
 * Loads the program; returns its fd. The first attempt asks for no verifier
 * log (a long program's log can overflow any buffer, which fails the load with
 * ENOSPC); only when that fails is it loaded again with a log, to say why.
 */
export function loadDeviceProgram(insns: Insn[], license = 'Apache-2.0'): number {
  LoadAttr ??= koffi.struct('ocirun_bpf_prog_load_attr', {
    prog_type: 'uint32',
    insn_cnt: 'uint32',
    insns: 'void *',
    license: 'void *',
    log_level: 'uint32',
    log_size: 'uint32',
    log_buf: 'void *',
    kern_version: 'uint32',
    prog_flags: 'uint32',
    prog_name: koffi.array('char', 16),
    prog_ifindex: 'uint32',
    expected_attach_type: 'uint32',
  });
  const code = encode(insns);
  const load = (log: Buffer | null) =>
    bpf(
      'PROG_LOAD',
      koffi.pointer(LoadAttr as never),
      {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.length,
        insns: code,
        license: Buffer.from(`${license}\0`),
        log_level: log ? 1 : 0,
        log_size: log?.length ?? 0,
        log_buf: log,
        kern_version: 0,
        prog_flags: 0,
        prog_name: 'ocirun_devices',
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
      },
      koffi.sizeof(LoadAttr as never),
    );
  let first: Error;
  try {
    return load(null);
  } catch (err) {
    first = err as Error;
  }
  const log = Buffer.alloc(4 << 20);
  try {
    // Loaded with a log it may well fail the same way: what matters is the log.
    return load(log);
  } catch {
    const text = log
      .toString('utf8')
      .replace(/\0[\s\S]*$/, '')
      .trim();
    const detail = text ? `; verifier: ${text.split('\n').slice(-3).join(' | ')}` : '';
    throw new OciError('system', `loading the device access program: ${first.message}${detail}`);
  }
}

function withCgroupFd<T>(dir: string, fn: (fd: number) => T): T {
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY | 0o2000000);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Ids of the device programs attached to the cgroup itself. */
export function attachedDevicePrograms(dir: string): number[] {
  return withCgroupFd(dir, (cgFd) => {
    const ids = new Uint32Array(64);
    const attr = Buffer.alloc(40);
    attr.writeUInt32LE(cgFd, 0);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
    attr.writeBigUInt64LE(koffi.address(ids), 16);
    attr.writeUInt32LE(ids.length, 24);
    bpf('PROG_QUERY', 'void *', attr, attr.length);
    return [...ids.subarray(0, attr.readUInt32LE(24))];
  });
}

/**
 * Attaches the program to the cgroup directory, then detaches the programs
 * attached before it, so no request is ever checked by neither.
 */
export function attachDeviceProgram(dir: string, progFd: number): void {
  const previous = attachedDevicePrograms(dir);
  withCgroupFd(dir, (cgFd) => {
    const attr = Buffer.alloc(20);
    attr.writeUInt32LE(cgFd, 0);
    attr.writeUInt32LE(progFd, 4);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
    attr.writeUInt32LE(BPF_F_ALLOW_MULTI, 12);
    try {
      bpf('PROG_ATTACH', 'void *', attr, attr.length);
    } catch (err) {
      throw wrap(err, `attaching the device access program to ${dir}`, { code: 'system' });
    }
    for (const id of previous) {
      const idAttr = Buffer.alloc(12);
      idAttr.writeUInt32LE(id, 0);
      let oldFd: number;
      try {
        oldFd = bpf('PROG_GET_FD_BY_ID', 'void *', idAttr, idAttr.length);
      } catch {
        continue; // gone meanwhile
      }
      try {
        const detach = Buffer.alloc(20);
        detach.writeUInt32LE(cgFd, 0);
        detach.writeUInt32LE(oldFd, 4);
        detach.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
        bpf('PROG_DETACH', 'void *', detach, detach.length);
      } finally {
        closeSync(oldFd);
      }
    }
  });
}

/** Generates, loads and attaches the program for `state` to a v2 cgroup. */
export function installDeviceFilter(dir: string, state: DeviceState): void {
  const fd = loadDeviceProgram(deviceProgram(state));
  try {
    attachDeviceProgram(dir, fd);
  } finally {
    closeSync(fd); // the attachment keeps the program
  }
}
