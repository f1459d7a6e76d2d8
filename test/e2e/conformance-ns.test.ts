// Namespaces and lifecycle cases where runc, crun and the OCI conformance
// suite (runtime-tools) agree: a joined mount namespace still gets the
// container's root, a config with no mount namespace shares the runtime's
// without leaving mounts behind, names set in a joined UTS namespace, the
// loopback interface of a new network namespace, a config without process,
// conflicting name fields, and the sd_notify socket.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, bundleWithOutbox, hostMountsMentioning, isRoot, processesMentioning, uniqueId, waitFor, type BundleConfig } from '../helpers/ocirun.js';
import { bindUnixDatagram, close, receiveDatagram } from '../../src/sys/libc.js';

const rt = new Runtime();
let sdNotify = '';

beforeAll(() => {
  if (!isRoot) return;
  sdNotify = rt.scratchPath('sd-notify');
  const built = spawnSync('gcc', ['-static', '-Os', '-s', '-o', sdNotify, path.join(__dirname, '../../fixtures/sd-notify.c')]);
  if (built.status !== 0) throw new Error(`building fixtures/sd-notify.c: ${built.stderr?.toString() ?? built.error}`);
});
afterAll(() => rt.dispose());

/** A process of the host in new namespaces of the given unshare(1) options, for a container to join. */
function holder(...options: string[]): { pid: number; child: ChildProcess; ns: (type: string) => string; stop: () => void } {
  const child = spawn('unshare', [...options, 'sleep', '600'], { stdio: 'ignore' });
  const pid = child.pid!;
  const typeOf: Record<string, string> = { '--mount': 'mnt', '--uts': 'uts' };
  const before = readlinkSync(`/proc/self/ns/${typeOf[options[0]]}`);
  // unshare(1) execs sleep once its namespaces are made.
  waitFor(() => {
    try {
      return readlinkSync(`/proc/${pid}/ns/${typeOf[options[0]]}`) !== before && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('sleep');
    } catch {
      return false;
    }
  }, 'the namespace holder');
  return {
    pid,
    child,
    ns: (type) => readlinkSync(`/proc/${pid}/ns/${type}`),
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}

const hostNs = (type: string) => readlinkSync(`/proc/self/ns/${type}`);

/** The mount of "/" in the host's table: its propagation must not change. */
const hostRootMount = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === '/');

describe.skipIf(!isRoot)('namespaces as runc and crun have them', () => {
  it("a joined mount namespace gets the container's root, mounts and masked paths, and nothing reaches the host", () => {
    const h = holder('--mount', '--propagation', 'private');
    const { bundle, out } = bundleWithOutbox(
      rt,
      'ls / > /out/root; readlink /proc/self/ns/mnt > /out/mnt; awk \'$5 == "/proc"\' /proc/self/mountinfo | wc -l > /out/proc; ' +
        'awk \'$5 == "/proc/keys"\' /proc/self/mountinfo > /out/masked; touch /etc/written 2> /out/ro-error; true',
      (c) => {
        c.linux.namespaces = c.linux.namespaces.map((ns) => (ns.type === 'mount' ? { type: 'mount', path: `/proc/${h.pid}/ns/mnt` } : ns));
      },
    );
    writeFileSync(path.join(bundle.rootfs, 'in-the-rootfs'), '');
    try {
      rt.ok(['run', '--bundle', bundle.dir, uniqueId()]);
      expect(out('root').split('\n')).toContain('in-the-rootfs');
      expect(out('mnt').trim()).toBe(h.ns('mnt'));
      expect(out('proc').trim()).toBe('1');
      expect(out('masked')).not.toBe(''); // linux.maskedPaths of the fixture
      expect(out('ro-error')).toMatch(/Read-only file system/); // root.readonly
      expect(hostMountsMentioning(bundle.dir)).toEqual([]);
    } finally {
      h.stop();
      bundle.cleanup();
    }
  });

  it.each([
    ['without a mount namespace', (c: BundleConfig) => (c.linux.namespaces = [])],
    ["joining the runtime's own mount namespace by path", (c: BundleConfig) => (c.linux.namespaces = [{ type: 'mount', path: `/proc/${process.pid}/ns/mnt` }])],
  ])("%s: the runtime's namespaces, a chroot into the root, and no mount left in the host's table", (_, namespaces) => {
    const rootBefore = hostRootMount();
    const { bundle, out, outbox } = bundleWithOutbox(
      rt,
      'ls / > /out/root; for t in mnt pid net ipc uts cgroup; do echo "$t $(readlink /proc/self/ns/$t)"; done > /out/ns; echo done > /out/ready; ' +
        'while [ ! -e /out/stop ]; do sleep 0.05; done',
      (c) => {
        namespaces(c);
        delete c.hostname;
      },
    );
    writeFileSync(path.join(bundle.rootfs, 'in-the-rootfs'), '');
    const id = uniqueId();
    try {
      rt.ok(['run', '--detach', '--bundle', bundle.dir, id]);
      waitFor(() => out('ready') !== '', `${id} to report`);
      expect(out('root').split('\n')).toContain('in-the-rootfs');
      const seen = Object.fromEntries(
        out('ns')
          .trim()
          .split('\n')
          .map((l) => l.split(' ')),
      );
      for (const type of ['mnt', 'pid', 'net', 'ipc', 'uts', 'cgroup']) expect(seen[type], type).toBe(hostNs(type));
      // Its mounts are in the host's table while it runs, all on the root's bind mount.
      const mounts = hostMountsMentioning(bundle.rootfs);
      expect(mounts.some((l) => l.split(' ')[4] === `${bundle.rootfs}/proc`)).toBe(true);
      expect(mounts.every((l) => l.split(' ')[4].startsWith(bundle.rootfs))).toBe(true);
      // exec: in the same root.
      expect(rt.ok(['exec', id, 'ls', '/']).stdout.split('\n')).toContain('in-the-rootfs');
      writeFileSync(path.join(outbox, 'stop'), '');
      waitFor(() => rt.state(id).status === 'stopped', `${id} to stop`);
      rt.ok(['delete', id]);
      expect(hostMountsMentioning(bundle.dir)).toEqual([]);
      expect(hostMountsMentioning(outbox)).toEqual([]);
      expect(hostRootMount()).toBe(rootBefore);
    } finally {
      rt.run(['delete', '--force', id]);
      bundle.cleanup();
    }
  });

  it("without a mount namespace, a create that fails leaves no mount in the host's table", () => {
    const bundle = rt.bundle(['/no/such/program'], (c) => {
      c.linux.namespaces = [];
      delete c.hostname;
    });
    const r = rt.run(['create', '--bundle', bundle.dir, uniqueId()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such executable/);
    expect(rt.containerIds()).toEqual([]);
    expect(hostMountsMentioning(bundle.dir)).toEqual([]);
  });

  it('sets the hostname in a joined UTS namespace', () => {
    const h = holder('--uts');
    const { bundle, out } = bundleWithOutbox(rt, 'hostname > /out/hostname', (c) => {
      c.linux.namespaces = c.linux.namespaces.map((ns) => (ns.type === 'uts' ? { type: 'uts', path: `/proc/${h.pid}/ns/uts` } : ns));
      c.hostname = 'joined-uts';
    });
    try {
      rt.ok(['run', '--bundle', bundle.dir, uniqueId()]);
      expect(out('hostname')).toBe('joined-uts\n');
      const inHolder = spawnSync('nsenter', [`--uts=/proc/${h.pid}/ns/uts`, 'hostname'], { encoding: 'utf8' });
      expect(inHolder.stdout).toBe('joined-uts\n');
    } finally {
      h.stop();
      bundle.cleanup();
    }
  });

  it('brings the loopback interface of a new network namespace up', () => {
    const { bundle, out } = bundleWithOutbox(rt, 'cat /sys/class/net/lo/flags > /out/flags; cat /sys/class/net/lo/operstate > /out/state');
    try {
      rt.ok(['run', '--bundle', bundle.dir, uniqueId()]);
      // IFF_UP (0x1) | IFF_LOOPBACK (0x8); IFF_RUNNING is not in this sysfs file.
      expect(Number(out('flags').trim()) & 0x9).toBe(0x9);
      expect(out('state').trim()).toBe('unknown'); // "down" when not up
    } finally {
      bundle.cleanup();
    }
  });

  it('refuses a name set both by its field and by its sysctl, leaving nothing behind', () => {
    const bundle = rt.bundle(['true'], (c) => {
      c.linux.sysctl = { 'kernel.hostname': 'other' };
    });
    const id = uniqueId();
    const r = rt.run(['run', '--bundle', bundle.dir, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ocirun: config.json: /linux/sysctl/kernel.hostname: conflicts with /hostname: set the name in one of them\n');
    expect(rt.containerIds()).toEqual([]);
    expect(processesMentioning(id)).toEqual([]);
  });
});

describe.skipIf(!isRoot)('a config without process', () => {
  it('creates; start fails saying why and leaves the container created; delete removes it', () => {
    const bundle = rt.bundle(['true'], (c) => {
      delete (c as Record<string, unknown>).process;
    });
    const id = uniqueId();
    rt.ok(['create', '--bundle', bundle.dir, id]);
    const started = rt.run(['start', id]);
    expect(started.code).toBe(1);
    expect(started.stderr).toBe(`ocirun: ${id}: cannot start: its config.json has no process (config.md: process is REQUIRED when start is called)\n`);
    expect(rt.state(id).status).toBe('created');
    rt.ok(['delete', id]);
    expect(rt.containerIds()).toEqual([]);
    expect(processesMentioning(id)).toEqual([]);
    expect(hostMountsMentioning(bundle.dir)).toEqual([]);
    // run: the same error, and nothing left.
    const ran = rt.run(['run', '--bundle', bundle.dir, id]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain('has no process');
    expect(rt.containerIds()).toEqual([]);
  });
});

describe.skipIf(!isRoot)('NOTIFY_SOCKET', () => {
  it('gives the container a socket at the same path and passes its READY=1 and STATUS= on, with the init as MAINPID', () => {
    const socketPath = rt.scratchPath('notify.sock');
    const listener = bindUnixDatagram(socketPath);
    const { bundle, out } = bundleWithOutbox(
      rt,
      'echo "$NOTIFY_SOCKET" > /out/env; ls -l "$NOTIFY_SOCKET" > /out/socket; /sd-notify STATUS=warming; /sd-notify "$(printf \'MAINPID=1\\nFDSTORE=1\\nREADY=1\')"; echo sent > /out/sent; sleep 0.5',
    );
    copyFileSync(sdNotify, path.join(bundle.rootfs, 'sd-notify'));
    const id = uniqueId();
    const env = { ...process.env, NOTIFY_SOCKET: socketPath };
    try {
      rt.ok(['create', '--bundle', bundle.dir, id], { env });
      expect(receiveDatagram(listener)).toBeNull(); // nothing before start
      rt.ok(['start', id], { env });
      // start returned: READY=1 has been passed on.
      const messages: string[] = [];
      for (let m = receiveDatagram(listener); m !== null; m = receiveDatagram(listener)) messages.push(m.toString());
      const pid = rt.state(id).pid;
      // The container's own MAINPID and FDSTORE are not passed on: the main pid is the init's.
      expect(messages).toEqual(['STATUS=warming', `READY=1\nMAINPID=${pid}`]);
      expect(out('env').trim()).toBe(socketPath);
      expect(out('socket')).toMatch(/^s/);
      expect(out('sent')).toBe('sent\n');
      expect(processesMentioning(id)).toEqual([]); // no ocirun process stays behind the started container
    } finally {
      close(listener);
      rt.run(['delete', '--force', id]);
      bundle.cleanup();
    }
    expect(existsSync(path.join(rt.root, id))).toBe(false);
  });
});
