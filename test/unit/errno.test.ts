// libc.ts names errno values from its own table, to spare every command
// loading node:os: the table must say what node:os says on this system.
import { constants } from 'node:os';
import { describe, expect, test } from 'vitest';
import { errnoName, errnoNameMap } from '../../src/sys/libc.js';

describe('errno names', () => {
  test('match node:os (for a number two names share, the one listed later)', () => {
    const expected = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));
    expect(new Map([...errnoNameMap()].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...expected].sort((a, b) => a[0] - b[0])));
  });

  test('an unknown number is named as a number', () => {
    expect(errnoName(4095)).toBe('errno 4095');
    expect(errnoName(constants.errno.EINTR)).toBe('EINTR');
  });
});
