// Escapes, tried from the config and from inside containers: mount
// destinations and roots that lead outside the rootfs, fds and a cwd of the
// host (CVE-2024-21626), the runtime's binary through /proc/<pid>/exe
// (CVE-2019-5736), masked and read-only paths, and another user driving
// root's containers. Each test would fail if the protection were gone.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { Runtime, bundleWithOutbox, hostMountsMentioning, isRoot, uniqueId, waitFor, type Bundle, type BundleConfig, type Result } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

const bundle = (args: string[], mutate?: (c: BundleConfig) => void) => rt.bundle(args, mutate);

/** ocirun with host directories open on fds 3, 4 and 5 (/, /etc, the bundle), none of them passed on purpose. */
function runWithHostFds(args: string[], bundleDir: string): Result {
  const out = rt.scratchPath(`fds-${uniqueId()}.out`);
  const fds = [openSync(out, 'w'), openSync(`${out}.err`, 'w'), openSync('/', 'r'), openSync('/etc', 'r'), openSync(bundleDir, 'r')];
  try {
    const r = spawnSync(OCIRUN_BIN, ['--root', rt.root, ...args], { stdio: ['ignore', ...fds], timeout: 30_000 });
    return { code: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(`${out}.err`, 'utf8') };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

const hostName = () => `ocirun-escape-${uniqueId()}`;

describe.skipIf(!isRoot)('mount destinations and root.path', () => {
  it('refuses ".." that climbs out of the root and magic links through /proc; nothing appears on the host', () => {
    const names = [hostName(), hostName(), hostName()];
    const destinations = [`/../../../tmp/${names[0]}`, `/proc/self/root/tmp/${names[1]}`, `/proc/1/root/tmp/${names[2]}`];
    const errors = [/\/mounts\/\d+\/destination: must not climb above the container root/, /mount \/proc\/self\/root.*ELOOP/, /mount \/proc\/1\/root.*ELOOP/];
    destinations.forEach((destination, i) => {
      const b = bundle(['true'], (c) => c.mounts.push({ destination, type: 'tmpfs', source: 'tmpfs' }));
      const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
      expect(r.code, destination).not.toBe(0);
      expect(r.stderr).toMatch(errors[i]);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(existsSync(`/tmp/${names[i]}`)).toBe(false);
      expect(hostMountsMentioning(names[i])).toEqual([]);
    });
    expect(rt.containerIds()).toEqual([]);
  });

  it('a root.path that is a symlink out of the bundle: its target is the root, and mounts are made inside it', () => {
    const name = hostName();
    const b = bundle(['sh', '-c', `grep " /${name} " /proc/self/mountinfo | cut -d" " -f5; ls -d /${name}`], (c) => {
      c.root.path = 'rootfs-link';
      c.mounts.push({ destination: `/${name}`, type: 'tmpfs', source: 'tmpfs' });
    });
    const elsewhere = path.join(os.tmpdir(), `${name}-rootfs`);
    renameSync(b.rootfs, elsewhere);
    symlinkSync(elsewhere, path.join(b.dir, 'rootfs-link'));
    rt.track({ ...b, cleanup: () => rmSync(elsewhere, { recursive: true, force: true }) } as unknown as Bundle);
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`/${name}\n/${name}\n`);
    expect(existsSync(path.join(elsewhere, name))).toBe(true); // the destination was made in the real root
    expect(existsSync(`/${name}`)).toBe(false);
    expect(existsSync(path.join(b.dir, name))).toBe(false);
    expect(hostMountsMentioning(name)).toEqual([]);
  });
});

describe.skipIf(!isRoot)('fds and cwd of the host (CVE-2024-21626 class)', () => {
  it("the container's process has fds 0-2 only, whatever the runtime inherited", () => {
    const b = bundle(['sleep', '1000']);
    const id = uniqueId();
    const r = runWithHostFds(['run', '-d', '--bundle', b.dir, id], b.dir);
    expect(r.code, r.stderr).toBe(0);
    const pid = rt.state(id).pid;
    waitFor(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u00001000\u0000', 'sleep to start');
    expect(readdirSync(`/proc/${pid}/fd`).sort()).toEqual(['0', '1', '2']);
    rt.ok(['delete', '-f', id]);
  });

  it('a cwd through /proc/self/fd/N is refused: at create, and at exec', () => {
    for (const fd of [3, 5, 12]) {
      const b = bundle(['sh', '-c', 'pwd -P; ls'], (c) => (c.process.cwd = `/proc/self/fd/${fd}`));
      const r = runWithHostFds(['run', '--bundle', b.dir, uniqueId()], b.dir);
      expect(r.code, `fd ${fd}: ${r.stdout}`).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^ocirun: container init: process\\.cwd /proc/self/fd/${fd}: .*ELOOP`));
    }
    // A cwd below such a link would otherwise be created on the host.
    const name = hostName();
    const deep = bundle(['true'], (c) => (c.process.cwd = `/proc/self/fd/3/tmp/${name}`));
    expect(runWithHostFds(['run', '--bundle', deep.dir, uniqueId()], deep.dir).code).not.toBe(0);
    expect(existsSync(`/tmp/${name}`)).toBe(false);

    const sleeper = bundle(['sleep', '1000']);
    const id = uniqueId();
    rt.ok(['run', '-d', '--bundle', sleeper.dir, id]);
    for (const fd of [3, 5]) {
      const r = runWithHostFds(['exec', '--cwd', `/proc/self/fd/${fd}`, id, 'sh', '-c', 'pwd -P; ls'], sleeper.dir);
      expect(r.code, `exec fd ${fd}: ${r.stdout}`).not.toBe(0);
      expect(r.stdout).toBe('');
      // The exec'd process's fd N is /dev/null by then: the caller's fds are dropped right after the clone.
      expect(r.stderr).toBe(`ocirun: container init: chdir /proc/self/fd/${fd}: ENOTDIR (Not a directory)\n`);
    }
    const viaFd = runWithHostFds(['exec', id, '/proc/self/fd/3/bin/true'], sleeper.dir);
    expect(viaFd.code).not.toBe(0);
    expect(viaFd.stderr).toMatch(/no such executable file in the container/);
    rt.ok(['delete', '-f', id]);
    expect(rt.containerIds()).toEqual([]);
  });
});

describe.skipIf(!isRoot)("the runtime's binary (CVE-2019-5736 class)", () => {
  /**
   * B's init joins A's namespaces and waits for start: a Node process, the
   * runtime itself, in A's sight. A process of A tries /proc/<pid>/exe.
   */
  function tryFromInside(aMutate: (c: BundleConfig) => void, bJoins: string[]): string {
    const a = bundle(['sleep', '1000'], aMutate);
    const aId = uniqueId('victim');
    rt.ok(['run', '-d', '--bundle', a.dir, aId]);
    const aPid = rt.state(aId).pid;
    const b = bundle(['sleep', '1000'], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((ns) => !bJoins.includes(ns.type));
      for (const type of bJoins) c.linux.namespaces.push({ type, path: `/proc/${aPid}/ns/${type}` });
    });
    const bId = uniqueId('joiner');
    rt.ok(['create', '--bundle', b.dir, bId]);
    const bPid = rt.state(bId).pid;
    const nsPid = /^NSpid:\s+\d+\s+(\d+)$/m.exec(readFileSync(`/proc/${bPid}/status`, 'utf8'))![1];
    expect(readFileSync(`/proc/${bPid}/cmdline`, 'utf8')).toContain('ocirun'); // still the runtime
    const r = rt.run([
      'exec',
      aId,
      'sh',
      '-c',
      `readlink /proc/${nsPid}/exe || echo no-link; cat /proc/${nsPid}/exe > /dev/null || echo no-read; readlink /proc/${nsPid}/cwd || echo no-cwd`,
    ]);
    rt.ok(['delete', '-f', bId]);
    rt.ok(['delete', '-f', aId]);
    expect(r.stderr).toMatch(/Permission denied/);
    return r.stdout;
  }

  it('a container cannot open /proc/<pid>/exe of an init that joins its pid namespace', () => {
    expect(tryFromInside(() => {}, ['pid'])).toBe('no-link\nno-read\nno-cwd\n');
  });

  // With CAP_SYS_PTRACE in its own user namespace, A passes every other check
  // of ptrace_may_access(): only the init being non-dumpable stops it.
  it('nor with CAP_SYS_PTRACE in a user namespace that the init joins too', () => {
    const seen = tryFromInside(
      (c) => {
        c.linux.namespaces.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
        for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_PTRACE');
      },
      ['pid', 'user'],
    );
    expect(seen).toBe('no-link\nno-read\nno-cwd\n');
  });
});

describe.skipIf(!isRoot)('masked and read-only paths under attack', () => {
  const attacks = [
    'mount -o remount,rw /proc/sys',
    'mount -o remount,rw,bind /proc/sys',
    'umount /proc/keys',
    'umount -l /proc/sys',
    'umount /sys/firmware',
    'mount -t proc proc /proc/sys',
    'echo 1 > /proc/sys/kernel/ns_last_pid',
    'echo b > /proc/sysrq-trigger',
    'touch /sys/firmware/x',
  ];
  const script = [
    ...attacks.map((a) => `( ${a} ) 2>/dev/null && echo "ALLOWED: ${a}"`),
    'echo "keys $(wc -c < /proc/keys)"',
    'grep -E " /proc/sys | /proc/keys | /sys/firmware " /proc/self/mountinfo | cut -d" " -f5,6',
  ].join('; ');

  const check = (mutate?: (c: BundleConfig) => void) => {
    const b = bundle(['sh', '-c', script], mutate);
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stdout).not.toMatch(/ALLOWED/);
    const mounts = r.stdout.split('\n').filter((l) => l.startsWith('/'));
    expect(r.stdout).toMatch(/^keys 0$/m);
    expect(mounts.find((l) => l.startsWith('/proc/sys '))).toMatch(/ ro,/);
    expect(mounts.find((l) => l.startsWith('/sys/firmware '))).toMatch(/ ro,/);
    expect(mounts.some((l) => l.startsWith('/proc/keys '))).toBe(true);
  };

  it('stay masked and read-only against remount, umount and writes with the default capabilities', () => {
    check();
  });

  it('and so in a user namespace, where the container is root of its own namespace', () => {
    check((c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    });
  });
});

describe.skipIf(!isRoot)('another user', () => {
  it("cannot read, signal, exec in or delete root's containers", () => {
    const { bundle: b, outbox } = bundleWithOutbox(rt, 'touch /out/ready; sleep 1000');
    rt.track(b);
    const id = uniqueId();
    rt.ok(['run', '-d', '--bundle', b.dir, id]);
    waitFor(() => existsSync(path.join(outbox, 'ready')), 'the container');
    mkdirSync(path.dirname(rt.root), { recursive: true });
    // The scratch directory must be traversable for the refusal to come from the state directory itself.
    chmodSync(path.dirname(rt.root), 0o755);
    for (const args of [['state', id], ['kill', id, 'KILL'], ['delete', '-f', id], ['exec', id, 'true'], ['pause', id], ['list'], ['ps', id]]) {
      const r = spawnSync(OCIRUN_BIN, ['--root', rt.root, ...args], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 30_000 });
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/^ocirun: EACCES: permission denied, \w+ '[^']*'\n$/);
    }
    expect(rt.state(id).status).toBe('running');
    rt.ok(['delete', '-f', id]);
  });
});
