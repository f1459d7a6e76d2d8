// The kernel's CPU/node list format, and the initial CPU affinity an exec'd
// process is cloned with (measured on this thread, which the clone inherits from).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { bitmask, parseList } from '../../src/linux/cpu-list.js';
import { cloneWithInitialAffinity } from '../../src/linux/cpu-affinity.js';

describe('parseList', () => {
  it('reads numbers, ranges and strides', () => {
    expect(parseList('')).toEqual([]);
    expect(parseList('0-3,7')).toEqual([0, 1, 2, 3, 7]);
    expect(parseList('7,1,1')).toEqual([1, 7]);
    expect(parseList('0-7:2/4')).toEqual([0, 1, 4, 5]);
  });

  it('says what is wrong', () => {
    expect(() => parseList('3-1')).toThrow('the range 3-1 ends before it starts');
    expect(() => parseList('0-3:5/4')).toThrow('1 <= used <= group');
    expect(() => parseList('a')).toThrow('"a" is not a number');
    expect(() => parseList('2000')).toThrow('beyond the 1024');
  });

  it('lays bits out as the kernel reads a mask', () => {
    const mask = bitmask([0, 9, 64], 2);
    expect(mask.length).toBe(16);
    expect([...mask.subarray(0, 2)]).toEqual([1, 2]);
    expect(mask[8]).toBe(1);
  });
});

const threadCpus = () => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))![1];

describe.skipIf(os.availableParallelism() < 2)('cloneWithInitialAffinity', () => {
  it("clones an exec'd process on the initial CPUs and then restores the caller's", () => {
    const before = threadCpus();
    let during = '';
    const pid = cloneWithInitialAffinity('exec', { cwd: '/', execCPUAffinity: { initial: '1' } }, () => {
      during = threadCpus();
      return 4242;
    });
    expect(pid).toBe(4242);
    expect(during).toBe('1');
    expect(threadCpus()).toBe(before);
  });

  it('leaves the init alone (config.md: not applicable to it)', () => {
    let during = '';
    cloneWithInitialAffinity('create', { cwd: '/', execCPUAffinity: { initial: '1' } }, () => {
      during = threadCpus();
      return 1;
    });
    expect(during).toBe(threadCpus());
  });
});
