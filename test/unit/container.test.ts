// lifecycle/container.ts: how every operation opens a container. The words of
// its refusals are runc's (clients match on them), and a refused open leaves
// the container's lock free.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, constants as fsc } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { OciError } from '../../src/errors.js';
import { LIVE, fromState, openContainer, openRemains } from '../../src/lifecycle/container.js';
import { Store, type ContainerState } from '../../src/state/store.js';
import { flock } from '../../src/sys/libc.js';
import { readProcStat } from '../../src/sys/proc.js';

let root: string;
let store: Store;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'ocirun-container-'));
  store = new Store(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A container whose init is `pid`; with `created`, its exec FIFO (a plain file does here) is still there. */
function writeContainer(id: string, pid: number, startTime: number, created = false): ContainerState {
  mkdirSync(store.dir(id));
  const state: ContainerState = {
    ociVersion: '1.3.0',
    id,
    status: created ? 'created' : 'running',
    pid,
    bundle: '/b',
    rootfs: '/b/rootfs',
    created: '2026-12-06T00:00:00Z',
    owner: '',
    initStartTime: startTime,
    ownNamespaces: [],
    config: {},
  };
  store.write(state);
  if (created) writeFileSync(store.fifoPath(id), '');
  return state;
}

const live = (id: string, created = false) => writeContainer(id, process.pid, readProcStat(process.pid)!.startTime, created);
const stopped = (id: string) => writeContainer(id, spawnSync('true').pid!, 1);

/** Whether another open file description can take the container's lock right now. */
function lockIsFree(id: string): boolean {
  const fd = openSync(store.dir(id), fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    return flock(fd, false);
  } finally {
    closeSync(fd);
  }
}

describe('openContainer', () => {
  test('gives the state and the status the system shows', () => {
    live('a', true);
    live('b');
    stopped('c');
    expect(openContainer(store, 'a').status).toBe('created');
    expect(openContainer(store, 'b').status).toBe('running');
    expect(openContainer(store, 'c').status).toBe('stopped');
    expect(openContainer(store, 'c').state.id).toBe('c');
  });

  test('an unknown id, or one without a state file: "container does not exist", unless the operation counts it as stopped', () => {
    expect(() => openContainer(store, 'nope')).toThrow('nope: container does not exist');
    mkdirSync(store.dir('half'));
    expect(() => openContainer(store, 'half')).toThrow('half: container does not exist');
    expect(() => openContainer(store, 'half', { allow: LIVE, withoutState: 'stopped' })).toThrow('half: container not running');
  });

  test('a status the operation does not take: "container not running", or the operation\'s own words', () => {
    stopped('c');
    live('r');
    expect(() => openContainer(store, 'c', { allow: LIVE })).toThrow('c: container not running');
    expect(() =>
      openContainer(store, 'r', {
        allow: ['created'],
        refuse: (id, status) => new OciError('wrong-state', `${id}: cannot start a container that is ${status}`),
      }),
    ).toThrow('r: cannot start a container that is running');
  });

  test('holds the lock until release; a refused open leaves it free', () => {
    stopped('c');
    live('r');
    expect(() => openContainer(store, 'c', { lock: true, allow: LIVE })).toThrow('container not running');
    expect(lockIsFree('c')).toBe(true);
    const opened = openContainer(store, 'r', { lock: true, allow: LIVE });
    expect(lockIsFree('r')).toBe(false);
    opened.release();
    expect(lockIsFree('r')).toBe(true);
    opened.release(); // a second release does nothing
  });

  test("fromState keeps the caller's lock for release (run's hand-off from create to start)", () => {
    const state = live('r', true);
    const handle = fromState(store, state, store.lock('r'));
    expect(handle.status).toBe('created');
    expect(lockIsFree('r')).toBe(false);
    handle.release();
    expect(lockIsFree('r')).toBe(true);
  });
});

describe('openRemains (delete)', () => {
  test('a damaged state file is null with `damaged`, and an error naming it without', () => {
    mkdirSync(store.dir('d'));
    writeFileSync(store.statePath('d'), '{');
    expect(() => openRemains(store, 'd', { lock: true, damaged: false })).toThrow(/d: state file .* is not valid JSON/);
    expect(lockIsFree('d')).toBe(true);
    const remains = openRemains(store, 'd', { lock: true, damaged: true });
    expect(remains.state).toBeNull();
    expect(remains.status).toBe('stopped');
    remains.release();
  });
});
