// Commands racing each other: on one id exactly one create wins and the rest
// fail clearly; on different ids they all succeed; and `state` read while a
// container is created and deleted never sees half a file.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { Runtime, isRoot, processesMentioning, uniqueId, type Result } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

let outputs = 0;
/** ocirun in the background, output through files (a detached container keeps a pipe open). */
function start(args: string[]): Promise<Result> {
  const out = rt.scratchPath(`par-${++outputs}.out`);
  const err = `${out}.err`;
  const fds = [openSync(out, 'w'), openSync(err, 'w')];
  const child = spawn(OCIRUN_BIN, ['--root', rt.root, ...args], { stdio: ['ignore', fds[0], fds[1]] });
  for (const fd of fds) closeSync(fd);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const result = { code: code ?? 128 + (signal ? 1 : 0), stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
      rmSync(out);
      rmSync(err);
      resolve(result);
    });
  });
}

const sleeper = () => rt.bundle(['sleep', '1000']);

describe.skipIf(!isRoot)('concurrent commands', () => {
  it('20 parallel creates of one id: exactly one succeeds, the others say the id exists', async () => {
    const bundle = sleeper();
    const id = uniqueId('race');
    const results = await Promise.all(Array.from({ length: 20 }, () => start(['create', '--bundle', bundle.dir, id])));
    const winners = results.filter((r) => r.code === 0);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => x.code !== 0)) {
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`ocirun: ${id}: container with given ID already exists\n`);
    }
    expect(rt.state(id).status).toBe('created');
    expect(rt.containerIds()).toEqual([id]);
    rt.ok(['delete', id]);
    expect(rt.containerIds()).toEqual([]);
    expect(processesMentioning(id)).toEqual([]);
  });

  it('parallel commands on different ids all succeed', async () => {
    const bundle = sleeper();
    const ids = Array.from({ length: 4 }, () => uniqueId('par'));
    const all = async (args: (id: string) => string[]) => {
      const results = await Promise.all(ids.map((id) => start(args(id))));
      results.forEach((r, i) => expect(r.code, `${args(ids[i]).join(' ')}: ${r.stderr}`).toBe(0));
      return results;
    };
    await all((id) => ['create', '--bundle', bundle.dir, id]);
    await all((id) => ['start', id]);
    const states = await all((id) => ['state', id]);
    expect(states.map((r) => JSON.parse(r.stdout).status)).toEqual(ids.map(() => 'running'));
    await all((id) => ['kill', id, 'KILL']);
    await all((id) => ['delete', '--force', id]);
    expect(rt.containerIds()).toEqual([]);
  });

  it('state while containers are created and deleted sees a whole state or "does not exist", never a torn file', async () => {
    const bundle = sleeper();
    const id = uniqueId('torn');
    const seen = new Map<string, number>();
    let churning = true;
    const churn = (async () => {
      let rounds = 0;
      while (churning || rounds < 3) {
        expect((await start(['create', '--bundle', bundle.dir, id])).code).toBe(0);
        expect((await start(['delete', '--force', id])).code).toBe(0);
        rounds++;
      }
      return rounds;
    })();
    // The file itself, read as often as the event loop allows: whole or absent.
    const statePath = `${rt.root}/${id}/state.json`;
    let fileReads = 0;
    const poll = setInterval(() => {
      let text: string;
      try {
        text = readFileSync(statePath, 'utf8');
      } catch {
        return;
      }
      expect(JSON.parse(text).id).toBe(id);
      fileReads++;
    }, 1);
    const readers = Array.from({ length: 2 }, async () => {
      for (let i = 0; i < 8; i++) {
        const r = await start(['state', id]);
        let kind: string;
        if (r.code === 0) {
          const state = JSON.parse(r.stdout);
          expect(state.id).toBe(id);
          expect(['creating', 'created', 'stopped']).toContain(state.status);
          kind = state.status;
        } else {
          expect(r.stderr).toBe(`ocirun: ${id}: container does not exist\n`);
          kind = 'gone';
        }
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
      }
    });
    await Promise.all(readers);
    churning = false;
    expect(await churn).toBeGreaterThanOrEqual(3);
    clearInterval(poll);
    expect(fileReads).toBeGreaterThan(0);
    // Both sides of the race were seen, so the reads did overlap the churn.
    expect(seen.get('gone') ?? 0).toBeGreaterThan(0);
    expect((seen.get('created') ?? 0) + (seen.get('creating') ?? 0) + (seen.get('stopped') ?? 0)).toBeGreaterThan(0);
    expect(rt.containerIds()).toEqual([]);
  });
});
