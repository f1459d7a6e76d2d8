// kill, ps and delete act on the container's init only while its pid still
// names the process that started at the recorded time: once the init died and
// a host process took its pid, none of them touches that process.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRoot, runtimeLeavingNoContainer, uniqueId } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

/** A host `sleep` that got `pid`, the kernel's next pid set just before each try (proc(5), ns_last_pid); null when others kept taking it. */
function hostProcessWithPid(pid: number): ChildProcess | null {
  for (let attempt = 0; attempt < 200; attempt++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
    if (child.pid === pid) return child;
    child.kill('SIGKILL');
  }
  return null;
}

describe.skipIf(!isRoot)('a pid reused by a host process after the init died', () => {
  it('kill, kill --all, ps and delete --force leave that process alone', async (ctx) => {
    const b = rt.bundle(['sleep', '1000']);
    const id = uniqueId();
    rt.ok(['run', '-d', '--bundle', b.dir, id]);
    const pid = rt.state(id).pid;
    process.kill(pid, 'SIGKILL');
    // The kernel reaps it once the pid namespace is gone; wait for the pid to be free.
    while (rt.state(id).status !== 'stopped') await new Promise((r) => setTimeout(r, 20));
    let host: ChildProcess | null = null;
    for (let wait = 0; wait < 50 && !host; wait++) {
      host = hostProcessWithPid(pid);
      if (!host) await new Promise((r) => setTimeout(r, 20));
    }
    if (!host) {
      rt.ok(['delete', '-f', id]);
      ctx.skip(); // other processes on this host kept taking the pid
      return;
    }
    try {
      const kill = rt.run(['kill', id, 'KILL']);
      const killAll = rt.run(['kill', '--all', id, 'KILL']);
      const ps = rt.run(['ps', '--format', 'json', id]);
      rt.ok(['delete', '--force', id]);
      expect(kill).toMatchObject({ code: 1, stderr: `ocirun: ${id}: container not running\n` });
      expect(killAll).toMatchObject({ code: 1, stderr: `ocirun: ${id}: container not running\n` });
      expect(ps.stdout).toBe('[]\n');
      // Still sleeping: killed, it would be a zombie ("Z") until this process reaps it.
      expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/^\d+ \(sleep\) S /);
    } finally {
      host.kill('SIGKILL');
    }
  });
});
