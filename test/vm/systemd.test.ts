// --systemd-cgroup with systemd as PID 1 (run in the guest by `npm run test:vm`; skipped elsewhere).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, isRoot, makeBundle, uniqueId } from '../helpers/ocirun.js';

const systemdIsInit = (() => {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
  } catch {
    return false;
  }
})();

const rt = new Runtime();

/** systemctl show's view of a unit. */
function show(unit: string): Record<string, string> {
  const out = execFileSync('systemctl', ['show', unit, '-p', 'ActiveState,Slice,Delegate,MemoryMax,TasksMax,CPUWeight'], { encoding: 'utf8' });
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
afterAll(() => rt.dispose());

describe.skipIf(!isRoot || !systemdIsInit)('--systemd-cgroup with systemd as PID 1', () => {
  it('create starts a transient scope systemd knows, with the limits as properties; update and delete reach it', () => {
    const id = uniqueId('sd');
    const unit = `ocitest-${id}.scope`;
    const b = rt.track(makeBundle({
      args: ['sleep', '987'],
      mutate: (c) => {
        c.linux.cgroupsPath = `system.slice:ocitest:${id}`;
        c.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 40 }, cpu: { shares: 512 } };
      },
    }));
    const r = rt.ok(['run', '-d', '--bundle', b.dir, id], { globals: ['--root', rt.root, '--systemd-cgroup'] });
    expect(r.stderr).not.toMatch(/managing .* through the cgroup filesystem instead/);
    const pid = rt.state(id).pid;
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(`0::/system.slice/${unit}\n`);
    expect(show(unit)).toMatchObject({ ActiveState: 'active', Slice: 'system.slice', Delegate: 'yes', MemoryMax: String(64 << 20), TasksMax: '40', CPUWeight: '20' });
    expect(readFileSync(`/sys/fs/cgroup/system.slice/${unit}/memory.max`, 'utf8')).toBe(`${64 << 20}\n`);
    rt.ok(['update', '--memory', String(96 << 20), '--pids-limit', '50', id]);
    expect(show(unit)).toMatchObject({ MemoryMax: String(96 << 20), TasksMax: '50' });
    expect(readFileSync(`/sys/fs/cgroup/system.slice/${unit}/pids.max`, 'utf8')).toBe('50\n');
    rt.ok(['delete', '--force', id]);
    expect(show(unit).ActiveState).toBe('inactive');
    expect(existsSync(`/sys/fs/cgroup/system.slice/${unit}`)).toBe(false);
  });
});
