// The status `state` reports comes from two looks at the system: the exec
// FIFO (gone once start released the init) and the init's liveness. A delete
// that runs between the two (it kills the init, then removes the FIFO) must
// not make a container that was never started read 'running'.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currentStatus } from '../../src/state/status.js';
import type { ContainerState, Store } from '../../src/state/store.js';
import { mkfifo } from '../../src/sys/libc.js';
import { readProcStat } from '../../src/sys/proc.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A live process standing for a created container's init, with its FIFO. */
function createdContainer(): { state: ContainerState; fifo: string; kill(): void } {
  const child = spawn('sleep', ['100'], { stdio: 'ignore' });
  const pid = child.pid!;
  const fifo = path.join(dir, `exec-${pid}.fifo`);
  mkfifo(fifo, 0o600);
  const state = { id: `c${pid}`, status: 'created', pid, initStartTime: readProcStat(pid)!.startTime } as ContainerState;
  return {
    state,
    fifo,
    kill: () => {
      child.kill('SIGKILL');
      // Dead once a zombie: this test's own child, which the (busy) event loop does not reap yet.
      while (!/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    },
  };
}

describe('currentStatus', () => {
  it("is 'created' while the FIFO is there and the init lives, 'running' once the FIFO is gone", () => {
    const c = createdContainer();
    const store = { fifoPath: () => c.fifo } as unknown as Store;
    expect(currentStatus(store, c.state)).toBe('created');
    unlinkSync(c.fifo);
    expect(currentStatus(store, c.state, () => false)).toBe('running');
    c.kill();
    expect(currentStatus(store, c.state)).toBe('stopped');
  });

  it("reads 'stopped', never 'running', when a delete kills the init and removes the FIFO between its looks", () => {
    const c = createdContainer();
    // The delete runs when the FIFO's path is asked for: in the middle of the status's looks.
    const store = {
      fifoPath: () => {
        c.kill();
        unlinkSync(c.fifo);
        return c.fifo;
      },
    } as unknown as Store;
    expect(currentStatus(store, c.state, () => false)).toBe('stopped');
  });
});
