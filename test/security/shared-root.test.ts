// A container without a mount namespace of its own gets its mounts on a bind
// mount of its root in the host's mount table (src/linux/shared-root.ts).
// A create killed after making that bind and before writing the state must
// not leave it on the host: `delete` finds it by what create recorded first.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { runtimeLeavingNoContainer, hostMountsMentioning, isRoot, uniqueId, waitFor } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

/**
 * A console socket that takes no connection: its backlog is full, so a
 * blocking connect(2) to it waits, and `create` stops right before the
 * clone, its root's bind mount made and no state written yet.
 */
function stuckConsoleSocket(socketPath: string) {
  const code = `
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(0)
held = []
while True:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(sys.argv[1])
        held.append(c)
    except BlockingIOError:
        break
print("full", flush=True)
time.sleep(600)
`;
  const child = spawn('python3', ['-c', code, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  return { child, full: () => out.includes('full') };
}

describe.skipIf(!isRoot)("a container in the runtime's mount namespace", () => {
  it('leaves no bind mount of its root when create is killed before the state is written', async () => {
    const b = rt.bundle(['true'], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((ns) => ns.type !== 'mount');
      c.process.terminal = true;
    });
    const socketPath = rt.scratchPath(`console-${uniqueId()}.sock`);
    const stuck = stuckConsoleSocket(socketPath);
    const id = uniqueId('killed');
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => stuck.full() && (clearInterval(t), resolve()), 20);
        stuck.child.on('exit', () => reject(new Error('the console socket went away')));
      });
      const create = spawn(OCIRUN_BIN, ['--root', rt.root, 'create', '--bundle', b.dir, '--console-socket', socketPath, id], { stdio: 'ignore' });
      waitFor(() => hostMountsMentioning(b.rootfs).length > 0, 'the bind mount of the root', 15_000);
      expect(existsSync(`${rt.root}/${id}/state.json`)).toBe(false);
      create.kill('SIGKILL');
      await new Promise((resolve) => create.on('exit', resolve));
    } finally {
      stuck.child.kill('SIGKILL');
    }
    const r = spawnSync(OCIRUN_BIN, ['--root', rt.root, 'delete', '--force', id], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(hostMountsMentioning(b.rootfs)).toEqual([]);
  });
});
