// The cgroup v2 device program: its instructions for given rule sets (decoded
// and read back), what it answers for requests, and, as root, that the kernel's
// verifier accepts it; where a cgroup2 hierarchy is mounted (v2 or hybrid),
// that it is enforced once attached to a cgroup.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BPF,
  attachedDevicePrograms,
  decode,
  deviceProgram,
  disassemble,
  encode,
  evaluate,
  installDeviceFilter,
  loadDeviceProgram,
} from '../../src/cgroups/bpf.js';
import { effectiveRules, emulate, type DeviceState } from '../../src/cgroups/devices.js';
import type { DeviceRule } from '../../src/cgroups/types.js';

const isRoot = process.getuid?.() === 0;

const stateOf = (rules: DeviceRule[]) => emulate(effectiveRules(rules));
const DEFAULT_SPEC: DeviceRule[] = [{ allow: false, access: 'rwm' }];

const ask = (state: DeviceState, type: 'b' | 'c', major: number, minor: number, access: string) =>
  evaluate(deviceProgram(state), { type, major, minor, access });

describe('device program instructions', () => {
  it('loads type, access, major and minor from bpf_cgroup_dev_ctx, then one block per rule, then the default', () => {
    const state: DeviceState = {
      defaultAllow: false,
      exceptions: [
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'b', major: 8, minor: -1, access: 'r' },
      ],
    };
    expect(disassemble(deviceProgram(state))).toEqual([
      'r2 = *(u32 *)(r1 + 0)',
      'w2 &= 65535',
      'r3 = *(u32 *)(r1 + 0)',
      'w3 >>= 16',
      'r4 = *(u32 *)(r1 + 4)',
      'r5 = *(u32 *)(r1 + 8)',
      // c 1:3 rwm: no access test
      'if w2 != 2 goto pc+4 (11)',
      'if w4 != 1 goto pc+3 (11)',
      'if w5 != 3 goto pc+2 (11)',
      'w0 = 1',
      'exit',
      // b 8:* r: everything asked for must be in "r"
      'if w2 != 1 goto pc+6 (18)',
      'w1 = w3',
      'w1 &= 2',
      'if w1 != w3 goto pc+3 (18)',
      'if w4 != 8 goto pc+2 (18)',
      'w0 = 1',
      'exit',
      'w0 = 0',
      'exit',
    ]);
  });

  it('encodes 8 bytes per instruction, as the kernel reads them', () => {
    const insns = deviceProgram({ defaultAllow: true, exceptions: [] });
    const bytes = encode(insns);
    expect(bytes.length).toBe(8 * insns.length);
    // r2 = *(u32 *)(r1 + 0): BPF_LDX|BPF_MEM|BPF_W, src r1 in the high nibble, dst r2 in the low one
    expect([...bytes.subarray(0, 8)]).toEqual([0x61, 0x12, 0, 0, 0, 0, 0, 0]);
    // w2 &= 0xffff: BPF_ALU|BPF_AND|BPF_K, imm little-endian
    expect([...bytes.subarray(8, 16)]).toEqual([0x54, 0x02, 0, 0, 0xff, 0xff, 0, 0]);
    // the default verdict: w0 = 1; exit
    expect([...bytes.subarray(bytes.length - 16)]).toEqual([0xb4, 0x00, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    expect(decode(bytes)).toEqual(insns);
  });

  it('uses 32-bit jumps, so device numbers above 2^31 compare right', () => {
    const insns = deviceProgram({ defaultAllow: false, exceptions: [{ allow: true, type: 'c', major: 4000, minor: 0xfffffffe, access: 'rwm' }] });
    const jumps = insns.filter((i) => (i.code & 0x07) === BPF.JMP32);
    expect(jumps.map((j) => j.code)).toEqual([0x56, 0x56, 0x56]); // JMP32 | JNE | K
    expect(
      ask({ defaultAllow: false, exceptions: [{ allow: true, type: 'c', major: 4000, minor: 0xfffffffe, access: 'rwm' }] }, 'c', 4000, 0xfffffffe, 'r'),
    ).toBe(1);
  });
});

describe('what the program answers', () => {
  it('the default spec (deny all) still allows the default devices and mknod, and nothing else', () => {
    const s = stateOf(DEFAULT_SPEC);
    expect(ask(s, 'c', 1, 3, 'rw')).toBe(1); // /dev/null
    expect(ask(s, 'c', 5, 2, 'rw')).toBe(1); // /dev/ptmx
    expect(ask(s, 'c', 136, 7, 'rw')).toBe(1); // /dev/pts/7
    expect(ask(s, 'c', 10, 200, 'rw')).toBe(0); // /dev/net/tun: not a default
    expect(ask(s, 'b', 8, 0, 'r')).toBe(0); // /dev/sda
    expect(ask(s, 'b', 8, 0, 'm')).toBe(1); // mknod of anything
    expect(ask(s, 'c', 1, 1, 'rw')).toBe(0); // /dev/mem
  });

  it('a config rule allows one more device with just the access it names', () => {
    const s = stateOf([...DEFAULT_SPEC, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }]);
    expect(ask(s, 'c', 10, 229, 'rw')).toBe(1);
    expect(ask(s, 'c', 10, 229, 'r')).toBe(1);
    expect(ask(s, 'c', 10, 230, 'r')).toBe(0);
  });

  it('denying read of /dev/null takes read away and leaves write', () => {
    const s = stateOf([...DEFAULT_SPEC, { allow: false, type: 'c', major: 1, minor: 3, access: 'r' }]);
    expect(ask(s, 'c', 1, 3, 'r')).toBe(0);
    expect(ask(s, 'c', 1, 3, 'rw')).toBe(0); // O_RDWR asks for both
    expect(ask(s, 'c', 1, 3, 'w')).toBe(1);
    expect(ask(s, 'c', 1, 5, 'r')).toBe(1); // /dev/zero untouched
  });

  it('an allow-all config is a deny list: a denied access matches as soon as any of it is asked for', () => {
    const s = stateOf([
      { allow: true, access: 'rwm' },
      { allow: false, type: 'b', major: 8, minor: 0, access: 'w' },
    ]);
    expect(s.defaultAllow).toBe(true);
    expect(disassemble(deviceProgram(s)).slice(-2)).toEqual(['w0 = 1', 'exit']);
    expect(ask(s, 'b', 8, 0, 'r')).toBe(1);
    expect(ask(s, 'b', 8, 0, 'w')).toBe(0);
    expect(ask(s, 'b', 8, 0, 'rw')).toBe(0);
    expect(ask(s, 'b', 8, 1, 'w')).toBe(1);
  });
});

describe.skipIf(!isRoot)('the kernel', () => {
  it('verifier accepts the programs (BPF_PROG_LOAD), for small and large rule sets', () => {
    const many: DeviceRule[] = [...DEFAULT_SPEC];
    for (let i = 0; i < 200; i++) many.push({ allow: true, type: i % 2 ? 'b' : 'c', major: 200 + i, minor: i, access: i % 3 ? 'rw' : 'r' });
    for (const rules of [
      DEFAULT_SPEC,
      [
        { allow: true, access: 'rwm' },
        { allow: false, type: 'c', major: 1, minor: 9, access: 'w' },
      ] as DeviceRule[],
      many,
    ]) {
      const fd = loadDeviceProgram(deviceProgram(stateOf(rules)));
      expect(fd).toBeGreaterThan(2);
      closeSync(fd);
    }
  });

  it('the verifier refuses a program that does not set r0, and the error carries its log', () => {
    expect(() => loadDeviceProgram([{ code: BPF.JMP | BPF.EXIT, dst: 0, src: 0, off: 0, imm: 0 }])).toThrow(
      /loading the device access program: bpf\(BPF_PROG_LOAD\): EACCES.*verifier: .*R0 !read_ok/,
    );
  });

  const unified = findCgroup2();
  it.skipIf(!unified)('enforces the rules for processes of the cgroup it is attached to', () => {
    const dir = path.join(unified!, `ocirun-bpf-test-${process.pid}`);
    mkdirSync(dir);
    try {
      installDeviceFilter(dir, stateOf([...DEFAULT_SPEC, { allow: false, type: 'c', major: 1, minor: 3, access: 'r' }]));
      expect(attachedDevicePrograms(dir)).toHaveLength(1);
      // The shell joins the cgroup, then each command runs under the program.
      const script = `echo $$ > ${dir}/cgroup.procs; cat /dev/null && echo read-ok; echo x > /dev/null && echo write-ok; head -c 1 /dev/zero > /dev/null && echo zero-ok`;
      const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
      expect(r.stdout).toBe('write-ok\nzero-ok\n');
      expect(r.stderr).toMatch(/\/dev\/null: Operation not permitted/);

      // Replacing the program leaves exactly one attached, and the new rules in force.
      installDeviceFilter(dir, stateOf(DEFAULT_SPEC));
      expect(attachedDevicePrograms(dir)).toHaveLength(1);
      const again = spawnSync('sh', ['-c', `echo $$ > ${dir}/cgroup.procs; cat /dev/null && echo read-ok`], { encoding: 'utf8' });
      expect(again.stdout).toBe('read-ok\n');
    } finally {
      rmdirSync(dir);
    }
  });
});

/** A writable cgroup2 mount: the whole tree on v2, /sys/fs/cgroup/unified on a hybrid host. */
function findCgroup2(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep > 0 && fields[sep + 1] === 'cgroup2' && existsSync(path.join(fields[4], 'cgroup.procs'))) return fields[4];
  }
  return null;
}
