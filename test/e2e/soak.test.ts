// The short soak: scripts/soak.mjs with few cycles and a few failures per
// stage (`npm run soak` is the full one). It fails on any leftover: state
// directory, cgroup, mount, process, or fd of the runtime in a container.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/ocirun.js';

const soak = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/soak.mjs');

describe.skipIf(!isRoot)('soak', () => {
  it('create/start/delete cycles and failures at every stage leave nothing behind', () => {
    const r = spawnSync(process.execPath, [soak, '--cycles', '12', '--failures', '1', '--json'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.leaks).toEqual([]);
    expect(summary.cycles).toBe(12);
    expect(summary.foregroundRuns).toBe(1);
    expect(summary.failuresByStage).toMatchObject({
      'bad mount': 1,
      'missing binary': 1,
      'bad cgroup value': 1,
      'failing hook': 1,
      'SIGKILL of create': 1,
      'SIGKILL of start': 1,
      'SIGKILL of run': 1,
      'SIGKILL of exec': 1,
      'SIGKILL of delete': 1,
    });
    expect(summary.recoveredByDeleteForce).toBe(5);
  }, 300_000);
});
