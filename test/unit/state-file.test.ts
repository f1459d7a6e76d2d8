// state.json is checked by hand (state/state-file.ts); this schema is the
// definition it must agree with: same data kept, same first bad field named.
import { describe, expect, test } from 'vitest';
import { array, boolean, number, object, optional, record, string, unknown, enum as zenum } from 'zod/mini';
import { checkStateFile } from '../../src/state/state-file.js';

const Reference = object({
  ociVersion: string(),
  id: string(),
  status: zenum(['creating', 'created', 'running', 'paused', 'stopped']),
  pid: number(),
  bundle: string(),
  annotations: optional(record(string(), string())),
  rootfs: string(),
  created: string(),
  owner: string(),
  initStartTime: number(),
  ownNamespaces: array(string()),
  cgroupPaths: optional(record(string(), string())),
  systemdCgroup: optional(boolean()),
  joined: optional(array(string())),
  config: unknown(),
});

const good = {
  ociVersion: '1.3.0',
  id: 'c1',
  status: 'created',
  pid: 42,
  bundle: '/b',
  annotations: { a: 'b' },
  rootfs: '/b/rootfs',
  created: '2026-11-22T00:00:00Z',
  owner: 'root',
  initStartTime: 123,
  ownNamespaces: ['pid', 'mount'],
  cgroupPaths: { '': '/sys/fs/cgroup/x' },
  systemdCgroup: false,
  joined: ['infra'],
  config: { ociVersion: '1.3.0' },
};

const variants: [string, unknown][] = [
  ['a complete state', good],
  ['no optional fields', { ...good, annotations: undefined, cgroupPaths: undefined, systemdCgroup: undefined, joined: undefined }],
  ['no config', { ...good, config: undefined }],
  ['a null config', { ...good, config: null }],
  ['an unknown field', { ...good, extra: 1 }],
  ['a string pid', { ...good, pid: '42' }],
  ['an unknown status', { ...good, status: 'weird' }],
  ['a missing id', { ...good, id: undefined }],
  ['a null bundle', { ...good, bundle: null }],
  ['a number in ownNamespaces', { ...good, ownNamespaces: ['pid', 3] }],
  ['ownNamespaces as an object', { ...good, ownNamespaces: { 0: 'pid' } }],
  ['a number annotation', { ...good, annotations: { a: 'b', c: 1 } }],
  ['annotations as an array', { ...good, annotations: ['a'] }],
  ['cgroupPaths null', { ...good, cgroupPaths: null }],
  ['systemdCgroup as a string', { ...good, systemdCgroup: 'yes' }],
  ['a number in joined', { ...good, joined: ['infra', 2] }],
  ['two bad fields', { ...good, owner: 1, pid: 'x' }],
  ['an array', []],
  ['null', null],
  ['a string', 'state'],
];

describe('state.json check', () => {
  test.each(variants)('%s', (_, value) => {
    // As read from disk: through JSON, so undefined fields are absent.
    const data = value === undefined ? value : JSON.parse(JSON.stringify(value));
    const reference = Reference.safeParse(data);
    const checked = checkStateFile(data);
    if (reference.success) expect(checked).toEqual({ state: reference.data });
    else expect(checked).toEqual({ badPath: reference.error.issues[0].path });
  });
});
