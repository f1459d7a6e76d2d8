// The parts of the security settings that need no container: exact uint64
// values, the seccomp compiler's refusals, the ENOSYS stub's decisions on
// every architecture, the scheduler rules, sched_attr's layout and the
// SELinux mount option.
import { describe, expect, it } from 'vitest';
import { OciError } from '../../src/errors.js';
import { checkProcessAttributes, schedAttr } from '../../src/linux/process-attrs.js';
import { withMountLabel } from '../../src/linux/lsm.js';
import { compileSeccomp, type LinuxSeccomp } from '../../src/seccomp/compile.js';
import { enosysStub, needsEnosysStub, newestNamedCalls } from '../../src/seccomp/enosys.js';
import { exactIntegerAt, parseWithExactIntegers } from '../../src/seccomp/exact-values.js';
import { libseccomp } from '../../src/seccomp/libseccomp.js';
import type { Process } from '../../src/spec/types.js';

describe('parseWithExactIntegers', () => {
  it('keeps integers beyond 2^53 exact and leaves everything else as JSON.parse does', () => {
    const text = '{"a": 18446744073709551615, "b": [1, 2.5, -3e2, "18446744073709551615"], "c": "x\\"9007199254740993\\"", "d": 9007199254740993}';
    const doc = parseWithExactIntegers(text) as Record<string, unknown>;
    expect(doc.a).toBe(18446744073709551615n);
    expect(doc.b).toEqual([1, 2.5, -300, '18446744073709551615']);
    expect(doc.c).toBe('x"9007199254740993"');
    expect(doc.d).toBe(9007199254740993n);
    expect(JSON.parse(text).d).toBe(9007199254740992); // what it would have been
    expect(exactIntegerAt(doc, ['b', 0])).toBe(1n);
    expect(exactIntegerAt(doc, ['b', 1])).toBeUndefined();
  });
});

function compileError(seccomp: LinuxSeccomp, exactConfig?: () => unknown): string[] {
  try {
    compileSeccomp(seccomp, { exactConfig });
  } catch (err) {
    expect(err).toBeInstanceOf(OciError);
    return [(err as OciError).message, ...(err as OciError).details];
  }
  throw new Error('compiled');
}

describe('compileSeccomp', () => {
  const allow = (syscalls: LinuxSeccomp['syscalls']): LinuxSeccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls });

  it('compiles a profile, skipping unknown names and rules with the default action', () => {
    const compiled = compileSeccomp(
      allow([
        { names: ['mkdir', 'not_a_syscall'], action: 'SCMP_ACT_ERRNO' },
        { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
        {
          names: ['kill'],
          action: 'SCMP_ACT_ERRNO',
          args: [
            { index: 1, value: 9, op: 'SCMP_CMP_EQ' },
            { index: 1, value: 15, op: 'SCMP_CMP_EQ' },
          ],
        },
      ]),
    );
    expect(compiled.ignoredNames).toEqual(['not_a_syscall']);
    expect(compiled.notify).toBe(false);
  });

  it('names every bad field, one line each', () => {
    expect(
      compileError({
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_VAX'],
        flags: ['SECCOMP_FILTER_FLAG_NOPE'],
        syscalls: [
          { names: ['mkdir'], action: 'SCMP_ACT_BOGUS' },
          { names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0, op: 'SCMP_CMP_ROUGHLY' }] },
          { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 65536 },
          { names: ['kill'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 },
        ],
      }),
    ).toEqual([
      expect.stringMatching(/^config\.json: \/linux\/seccomp\/architectures\/0: SCMP_ARCH_VAX is not an architecture libseccomp [\d.]+ knows$/),
      expect.stringMatching(/^config\.json: \/linux\/seccomp\/flags\/0: unknown flag "SECCOMP_FILTER_FLAG_NOPE"/),
      expect.stringMatching(/^config\.json: \/linux\/seccomp\/syscalls\/0\/action: unknown action "SCMP_ACT_BOGUS"/),
      expect.stringMatching(/^config\.json: \/linux\/seccomp\/syscalls\/1\/args\/0\/op: unknown operator "SCMP_CMP_ROUGHLY"/),
      'config.json: /linux/seccomp/syscalls/2/errnoRet: must be at most 65535 (seccomp returns 16 bits of data)',
      'config.json: /linux/seccomp/syscalls/3/errnoRet: can only be used with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW',
    ]);
  });

  it('refuses SCMP_ACT_NOTIFY where the runtime could not hand the fd over', () => {
    expect(compileError(allow([{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }]))).toEqual([
      'config.json: /linux/seccomp/listenerPath: is required when a rule uses SCMP_ACT_NOTIFY (the notify fd is sent there)',
    ]);
    expect(compileError({ ...allow([{ names: ['sendmsg'], action: 'SCMP_ACT_NOTIFY' }]), listenerPath: '/x.sock' })).toEqual([
      'config.json: /linux/seccomp/syscalls/0/names/0: SCMP_ACT_NOTIFY cannot be used for sendmsg: the runtime needs it to pass the notify fd on',
    ]);
    expect(compileError({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/x.sock' })[0]).toMatch(
      /defaultAction: SCMP_ACT_NOTIFY cannot be the default action/,
    );
  });

  it('takes uint64 values above 2^53 from the exact text, and refuses them without it', () => {
    const rounded = allow([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 2 ** 64, op: 'SCMP_CMP_MASKED_EQ' }] }]);
    expect(compileError(rounded)).toEqual([
      'config.json: /linux/seccomp/syscalls/0/args/0/value: 18446744073709552000 is above 2^53 and its exact value cannot be read from config.json',
    ]);
    const text = '{"linux": {"seccomp": {"syscalls": [{"args": [{"value": 18446744073709551615}]}]}}}';
    compileSeccomp(rounded, { exactConfig: () => parseWithExactIntegers(text) });
    const tooBig = '{"linux": {"seccomp": {"syscalls": [{"args": [{"value": 18446744073709551616}]}]}}}';
    expect(compileError(rounded, () => parseWithExactIntegers(tooBig))).toEqual([
      'config.json: /linux/seccomp/syscalls/0/args/0/value: 18446744073709551616 is above the uint64 maximum 18446744073709551615',
    ]);
  });
});

describe('the ENOSYS stub', () => {
  const X86_64 = 0xc000003e;
  const I386 = 0x40000003;
  const X32 = 0x40000000;

  /** Runs the stub on one call: 'ENOSYS', or 'filter' when it goes on to libseccomp's program (right after it). */
  function decide(stub: Buffer, arch: number, nr: number): string {
    let acc = 0;
    let pc = 0;
    while (pc < stub.length / 8) {
      const at = pc * 8;
      const [code, jt, jf, k] = [stub.readUInt16LE(at), stub[at + 2], stub[at + 3], stub.readUInt32LE(at + 4)];
      pc++;
      if (code === 0x20) acc = k === 0 ? nr : arch;
      else if (code === 0x05) pc += k;
      else if (code === 0x15) pc += acc === k ? jt : jf;
      else if (code === 0x25) pc += acc > k ? jt : jf;
      else if (code === 0x45) pc += (acc & k) !== 0 ? jt : jf;
      else if (code === 0x06) return k === 0x50026 ? 'ENOSYS' : `ret ${k.toString(16)}`;
      else throw new Error(`unexpected instruction ${code}`);
    }
    return pc === stub.length / 8 ? 'filter' : `jumped past the stub to ${pc}`;
  }

  it('returns ENOSYS above the newest named call of each architecture, and nothing else', () => {
    const stub = enosysStub([
      { auditArch: X86_64, newest: 446 },
      { auditArch: I386, newest: 450 },
    ]);
    expect(decide(stub, X86_64, 447)).toBe('ENOSYS');
    expect(decide(stub, X86_64, 446)).toBe('filter');
    expect(decide(stub, X86_64, 0)).toBe('filter');
    expect(decide(stub, X86_64, X32 | 600)).toBe('filter'); // x32 is not in the filter: libseccomp decides
    expect(decide(stub, I386, 451)).toBe('ENOSYS');
    expect(decide(stub, I386, 447)).toBe('filter');
    expect(decide(stub, 0xc00000b7 /* aarch64 */, 1000)).toBe('filter');
  });

  it('tells x32 calls from x86_64 ones by X32_SYSCALL_BIT', () => {
    const both = enosysStub([{ auditArch: X86_64, newest: 334, newestX32: X32 | 545 }]);
    expect(decide(both, X86_64, 335)).toBe('ENOSYS');
    expect(decide(both, X86_64, 334)).toBe('filter');
    expect(decide(both, X86_64, X32 | 546)).toBe('ENOSYS');
    expect(decide(both, X86_64, X32 | 545)).toBe('filter');
    const x32Only = enosysStub([{ auditArch: X86_64, newestX32: X32 | 545 }]);
    expect(decide(x32Only, X86_64, 1000)).toBe('filter');
    expect(decide(x32Only, X86_64, X32 | 546)).toBe('ENOSYS');
  });

  it('finds the newest named call per architecture with libseccomp, and is not needed where the default allows', () => {
    const profile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: ['read', 'landlock_restrict_self', 'no_such_call'], action: 'SCMP_ACT_ALLOW' }],
    };
    const lib = libseccomp();
    const tokens = [lib.archNative(), lib.archResolveName('x86'), lib.archResolveName('x32')];
    expect(newestNamedCalls(profile, tokens, lib)).toEqual(
      expect.arrayContaining([{ auditArch: I386, newest: 446 }, ...(process.arch === 'x64' ? [{ auditArch: X86_64, newest: 446, newestX32: X32 | 446 }] : [])]),
    );
    expect(needsEnosysStub(profile)).toBe(true);
    expect(needsEnosysStub({ ...profile, defaultAction: 'SCMP_ACT_KILL_PROCESS' })).toBe(true);
    expect(needsEnosysStub({ ...profile, defaultErrnoRet: 38 })).toBe(false);
    expect(needsEnosysStub({ ...profile, defaultAction: 'SCMP_ACT_ALLOW' })).toBe(false);
    expect(needsEnosysStub({ ...profile, defaultAction: 'SCMP_ACT_LOG' })).toBe(false);
    expect(enosysStub([]).length).toBe(0);
  });
});

describe('process.scheduler checks', () => {
  const check = (scheduler: Record<string, unknown>) => checkProcessAttributes({ cwd: '/', scheduler } as Process);

  it('accepts what sched_setattr(2) accepts', () => {
    expect(check({ policy: 'SCHED_OTHER', nice: -20 })).toEqual([]);
    expect(check({ policy: 'SCHED_RR', priority: 99 })).toEqual([]);
    expect(check({ policy: 'SCHED_DEADLINE', runtime: 1024, deadline: 1024, period: 0 })).toEqual([]);
  });

  it('refuses the rest, naming the field', () => {
    expect(check({ policy: 'SCHED_BATCH', nice: 20, priority: 1 })).toEqual([
      { pointer: '/process/scheduler/nice', message: 'must be between -20 and 19' },
      { pointer: '/process/scheduler/priority', message: 'must be 0 (or unset) for SCHED_BATCH: only SCHED_FIFO and SCHED_RR have a static priority' },
    ]);
    expect(check({ policy: 'SCHED_DEADLINE', runtime: 100 })).toEqual([
      { pointer: '/process/scheduler/runtime', message: 'must be at least 1024 (nanoseconds) for SCHED_DEADLINE' },
    ]);
    expect(check({ policy: 'SCHED_DEADLINE', runtime: 2000, deadline: 3000, period: 2500 })).toEqual([
      { pointer: '/process/scheduler/period', message: 'must be 0 or at least deadline (3000) for SCHED_DEADLINE' },
    ]);
  });

  it('lays out struct sched_attr as the kernel reads it', () => {
    const attr = schedAttr({
      policy: 'SCHED_DEADLINE',
      nice: -3,
      priority: 0,
      flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM'],
      runtime: 1,
      deadline: 2,
      period: 3,
    });
    expect(attr.length).toBe(56);
    expect(attr.readUInt32LE(0)).toBe(56);
    expect(attr.readUInt32LE(4)).toBe(6);
    expect(attr.readBigUInt64LE(8)).toBe(3n);
    expect(attr.readInt32LE(16)).toBe(-3);
    expect([attr.readBigUInt64LE(24), attr.readBigUInt64LE(32), attr.readBigUInt64LE(40)]).toEqual([1n, 2n, 3n]);
  });
});

describe('withMountLabel', () => {
  it('adds context= to filesystem mounts, not to proc, sysfs, mqueue or cgroups', () => {
    expect(withMountLabel('tmpfs', ['mode=755'], 'system_u:object_r:container_file_t:s0')).toEqual([
      'mode=755',
      'context="system_u:object_r:container_file_t:s0"',
    ]);
    expect(withMountLabel('proc', [], 'x')).toEqual([]);
    expect(withMountLabel('tmpfs', ['context="y"'], 'x')).toEqual(['context="y"']);
    expect(withMountLabel('tmpfs', ['size=1m'], undefined)).toEqual(['size=1m']);
  });
});
