// The system calls that build a container's root, in order and with their
// flags, recorded by the kernel double instead of made: no privilege needed.
// Paths are resolved for real, in a scratch root; what the double records as
// a target is the file that resolution found there.
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRootfs, finishRootfs, type RootfsPlan } from '../../src/linux/rootfs.js';
import { openNullDevice, setupDev } from '../../src/linux/devices.js';
import { openRoot } from '../../src/linux/paths.js';
import { AT_EMPTY_PATH, AT_RECURSIVE, MNT_DETACH, MOUNT_ATTR, MS, OPEN_TREE_CLONE, O, S_IFCHR, close } from '../../src/sys/libc.js';
import type { Mount, Spec } from '../../src/spec/types.js';
import { KernelDouble, throughFd } from '../helpers/kernel-double.js';

let scratch: string;
let rootfs: string;
let kernel: KernelDouble;
let cwd: string;

beforeEach(() => {
  cwd = process.cwd();
  scratch = mkdtempSync(path.join(os.tmpdir(), 'rootfs-choreography-'));
  rootfs = path.join(scratch, 'rootfs');
  mkdirSync(rootfs);
  kernel = new KernelDouble();
});

afterEach(() => {
  // Paths through fds move the working directory (see Procfs.fdPath).
  process.chdir(cwd);
  kernel.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

const DEFAULT_MOUNTS: Mount[] = [
  { destination: '/proc', type: 'proc', source: 'proc' },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

function config(extra: Partial<Spec> = {}, linux: Spec['linux'] = {}): Spec {
  return { ociVersion: '1.3.0', root: { path: 'rootfs' }, mounts: DEFAULT_MOUNTS, ...extra, linux } as Spec;
}

function plan(spec: Spec, more: Partial<RootfsPlan> = {}): RootfsPlan {
  return {
    kernel,
    config: spec,
    rootfs,
    bundle: scratch,
    inUserNamespace: false,
    newCgroupNamespace: false,
    entry: 'pivot',
    beforePivot: () => kernel.mark('create hooks'),
    ...more,
  };
}

const at = (...parts: string[]) => path.join(rootfs, ...parts);
/** A path in the root as a mount target: always the fd that resolution found, never the path again. */
const onto = (...parts: string[]) => throughFd(at(...parts));
const mountsOnto = (target: string) => kernel.only('mount').filter((c) => c.args[1] === target);

describe('buildRootfs', () => {
  it("makes / a slave, the root's parent private, then binds the root onto itself, before any mount of config.json", () => {
    buildRootfs(plan(config()));
    const mounts = kernel.only('mount');
    expect(mounts[0].args).toEqual([null, '/', null, MS.SLAVE | MS.REC, null]);
    expect(mounts[1].args[0]).toBeNull();
    expect(rootfs.startsWith(mounts[1].args[1] as string)).toBe(true); // the mount point holding the root
    expect(mounts[1].args[3]).toBe(MS.PRIVATE);
    expect(mounts[2].args).toEqual([rootfs, rootfs, null, MS.BIND | MS.REC, null]);
    expect(mounts[3].args[1]).toBe(onto('proc'));
  });

  it('takes linux.rootfsPropagation for / instead of slave', () => {
    buildRootfs(plan(config({}, { rootfsPropagation: 'shared' })));
    expect(kernel.only('mount')[0].args).toEqual([null, '/', null, MS.SHARED | MS.REC, null]);
  });

  it('mounts proc, the /dev tmpfs, devpts and a read-only sysfs with their flags on mount(2) itself, in config order', () => {
    buildRootfs(plan(config()));
    const made = kernel.only('mount').slice(3, 7);
    expect(made.map((c) => c.args)).toEqual([
      ['proc', onto('proc'), 'proc', 0, null],
      ['tmpfs', onto('dev'), 'tmpfs', MS.NOSUID | MS.STRICTATIME, 'mode=755,size=65536k'],
      ['devpts', onto('dev', 'pts'), 'devpts', MS.NOSUID | MS.NOEXEC, 'newinstance,ptmxmode=0666,mode=0620'],
      ['sysfs', onto('sys'), 'sysfs', MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY, null],
    ]);
    // Never a remount by path afterwards: the flags were set as the mounts were made.
    expect(kernel.only('mount').some((c) => ((c.args[3] as number) & MS.REMOUNT) !== 0)).toBe(false);
  });

  it("gives a tmpfs without mode= its mount point's mode, as runc", () => {
    mkdirSync(at('scratch'), { mode: 0o700 });
    buildRootfs(plan(config({ mounts: [{ destination: '/scratch', type: 'tmpfs', source: 'tmpfs' }] })));
    expect(mountsOnto(onto('scratch'))[0].args).toEqual(['tmpfs', onto('scratch'), 'tmpfs', 0, 'mode=700']);
  });

  it('binds through a detached copy of the source whose flags and propagation are set before it is attached', () => {
    const source = path.join(scratch, 'volume');
    mkdirSync(source);
    buildRootfs(plan(config({ mounts: [{ destination: '/data', type: 'bind', source, options: ['rbind', 'ro', 'nosuid'] }] })));
    const tree = `tree of ${source}`;
    const steps = kernel.calls.filter((c) => c.args[0] === tree || (c.call === 'openTree' && c.args[1] === source));
    expect(steps).toEqual([
      { call: 'openTree', args: ['AT_FDCWD', source, OPEN_TREE_CLONE | O.CLOEXEC | AT_RECURSIVE] },
      { call: 'mountSetattr', args: [tree, 0, { set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, clear: 0, propagation: 0 }] },
      // the root's propagation (rslave), for the bind and, as it is an rbind, its submounts
      { call: 'mountSetattr', args: [tree, AT_RECURSIVE, { set: 0, clear: 0, propagation: MS.SLAVE }] },
      { call: 'moveMountFd', args: [tree, at('data')] },
    ]);
  });

  it("sets a bind mount's propagation option after it is attached, and r* options on every mount of the copy", () => {
    const source = path.join(scratch, 'volume');
    mkdirSync(source);
    writeFileSync(path.join(source, 'f'), '');
    const m: Mount = { destination: '/file', type: 'bind', source: path.join(source, 'f'), options: ['bind', 'rro', 'rprivate'] };
    buildRootfs(plan(config({ mounts: [m] })));
    const tree = `tree of ${path.join(source, 'f')}`;
    const steps = kernel.calls.filter((c) => c.args[0] === tree).map((c) => [c.call, ...c.args.slice(1)]);
    expect(steps).toEqual([
      ['mountSetattr', AT_RECURSIVE, { set: MOUNT_ATTR.RDONLY, clear: 0, propagation: 0 }],
      ['mountSetattr', 0, { set: 0, clear: 0, propagation: MS.SLAVE }],
      ['moveMountFd', at('file')],
      ['mountSetattr', AT_RECURSIVE, { set: 0, clear: 0, propagation: MS.PRIVATE }],
    ]);
  });

  it('keeps the flags a more privileged namespace locked on a bind source: on EPERM it sets only the ones asked for', () => {
    const source = path.join(scratch, 'volume');
    mkdirSync(source);
    kernel.fail('mountSetattr', 'EPERM', (args) => (args[2] as { clear: number }).clear !== 0);
    buildRootfs(plan(config({ mounts: [{ destination: '/data', type: 'bind', source, options: ['rbind', 'rw', 'nosuid'] }] })));
    const attrs = kernel
      .only('mountSetattr')
      .slice(0, 2)
      .map((c) => c.args[2]);
    expect(attrs).toEqual([
      { set: MOUNT_ATTR.NOSUID, clear: MOUNT_ATTR.RDONLY, propagation: 0 },
      { set: MOUNT_ATTR.NOSUID, clear: 0, propagation: 0 },
    ]);
  });

  it('makes the device nodes with mknod outside a user namespace, owned as configured', () => {
    buildRootfs(plan(config({ mounts: [] }, { devices: [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o600, uid: 5, gid: 6 }] })));
    const nodes = kernel.only('mknodat').map((c) => [c.args[0], c.args[1], c.args[2], c.args[3]]);
    expect(nodes).toContainEqual([at('dev'), 'null', S_IFCHR | 0o666, (1n << 8n) | 3n]);
    expect(nodes).toContainEqual([at('dev'), 'fuse', S_IFCHR | 0o600, (10n << 8n) | 229n]);
    expect(nodes).toHaveLength(7);
    const fuse = kernel.indexOf('mknodat', at('dev'), 'fuse');
    expect(kernel.calls[fuse + 1]).toEqual({ call: 'fchownat', args: [at('dev'), 'fuse', 5, 6, 0x100 /* AT_SYMLINK_NOFOLLOW */] });
    expect(kernel.only('mount').filter((c) => c.args[3] === MS.BIND)).toEqual([]);
  });

  it("binds the host's nodes onto empty files in a user namespace, where mknod is refused", () => {
    buildRootfs(plan(config({ mounts: [] }, { devices: [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229 }] }), { inUserNamespace: true }));
    expect(kernel.only('mknodat')).toEqual([]);
    const binds = kernel
      .only('mount')
      .filter((c) => c.args[3] === MS.BIND)
      .map((c) => c.args);
    expect(binds).toEqual(
      ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/fuse'].map((d) => [d, onto(d), null, MS.BIND, null]),
    );
  });

  it('links /dev/fd, the standard streams and /dev/ptmx', () => {
    buildRootfs(plan(config({ mounts: [] })));
    const links = kernel.only('symlinkat').map((c) => `${path.join(c.args[1] as string, c.args[2] as string)} -> ${c.args[0]}`);
    expect(links).toEqual(
      expect.arrayContaining([
        `${at('dev', 'fd')} -> /proc/self/fd`,
        `${at('dev', 'stdin')} -> /proc/self/fd/0`,
        `${at('dev', 'stdout')} -> /proc/self/fd/1`,
        `${at('dev', 'stderr')} -> /proc/self/fd/2`,
        `${at('dev', 'ptmx')} -> pts/ptmx`,
      ]),
    );
  });

  it('leaves /dev to a bind mount of it', () => {
    const source = path.join(scratch, 'devdir');
    mkdirSync(source);
    buildRootfs(plan(config({ mounts: [{ destination: '/dev', type: 'bind', source, options: ['rbind'] }] })));
    expect(kernel.only('mknodat', 'symlinkat')).toEqual([]);
  });

  it('runs the create hooks with every mount made, then pivots into the root and detaches the old one', () => {
    buildRootfs(plan(config()));
    const hooks = kernel.indexOf('mark', 'create hooks');
    const tail = kernel.calls.slice(hooks);
    expect(tail).toEqual([
      { call: 'mark', args: ['create hooks'] },
      { call: 'pivotRoot', args: ['.', '.'], cwd: rootfs },
      // back in the old root, stacked on the new one: a slave first, so the detach does not propagate to the host
      { call: 'mount', args: [null, '.', null, MS.SLAVE | MS.REC, null], cwd: '/' },
      { call: 'umount2', args: ['.', MNT_DETACH], cwd: '/' },
    ]);
    expect(kernel.calls.slice(0, hooks).some((c) => c.call === 'pivotRoot')).toBe(false);
  });

  it('moves the root onto / and chroots into it with --no-pivot', () => {
    buildRootfs(plan(config({ mounts: [] }), { entry: 'move' }));
    expect(kernel.only('pivotRoot', 'umount2')).toEqual([]);
    const last = kernel.calls.slice(-2);
    expect(last).toEqual([
      { call: 'mount', args: [rootfs, '/', null, MS.MOVE, null] },
      { call: 'chroot', args: ['.'], cwd: rootfs },
    ]);
  });

  it("leaves propagation alone in the runtime's own mount namespace and only chroots", () => {
    buildRootfs(plan(config({ mounts: [] }), { entry: 'chroot' }));
    expect(kernel.only('mount').filter((c) => c.args[1] === '/' || c.args[0] === rootfs)).toEqual([]);
    expect(kernel.only('pivotRoot', 'chroot')).toEqual([{ call: 'chroot', args: ['.'], cwd: rootfs }]);
  });

  it('stops at the first failed mount, naming it, and neither runs the hooks nor pivots', () => {
    kernel.fail('mount', 'ENODEV', (args) => args[2] === 'devpts');
    expect(() => buildRootfs(plan(config()))).toThrow(/mount \/dev\/pts \(devpts from devpts\): mount: ENODEV/);
    expect(kernel.only('mark', 'pivotRoot', 'mknodat')).toEqual([]);
    expect(mountsOnto(onto('sys'))).toEqual([]);
  });
});

describe('finishRootfs', () => {
  // It works in the root the init pivoted into; here that is this process's root,
  // so the paths are ones every Linux host has.
  it('makes each read-only path a read-only copy of itself and its submounts, attached over it', () => {
    finishRootfs(kernel, config({}, { readonlyPaths: ['/proc/sys', '/no/such/path'] }));
    const calls = kernel.calls.map(({ call, args }) => [call, ...args]);
    expect(calls).toEqual([
      ['openTree', '/proc/sys', '', OPEN_TREE_CLONE | O.CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH],
      ['mountSetattr', 'tree of /proc/sys', AT_RECURSIVE, { set: MOUNT_ATTR.RDONLY, clear: 0, propagation: 0 }],
      ['moveMountFd', 'tree of /proc/sys', '/proc/sys'],
    ]);
  });

  it("masks a directory with a read-only tmpfs and a file with the container's /dev/null, once verified to be 1:3", () => {
    finishRootfs(kernel, config({}, { maskedPaths: ['/proc/sys', '/proc/version', '/no/such/file'] }));
    expect(kernel.calls).toEqual([
      { call: 'mount', args: ['tmpfs', throughFd('/proc/sys'), 'tmpfs', MS.RDONLY, null] },
      // the fd of /dev/null that openNullDevice checked, not the path /dev/null looked up again
      { call: 'mount', args: [throughFd('/dev/null'), throughFd('/proc/version'), null, MS.BIND, null] },
    ]);
  });

  it('sets read-only on the root mount itself for root.readonly, then the final propagation', () => {
    const spec = config({ root: { path: 'rootfs', readonly: true } }, { rootfsPropagation: 'rslave' });
    finishRootfs(kernel, spec);
    expect(kernel.calls).toEqual([
      { call: 'mountSetattr', args: ['/', 0, { set: MOUNT_ATTR.RDONLY, clear: 0, propagation: 0 }] },
      { call: 'mount', args: [null, '/', null, MS.SLAVE | MS.REC, null] },
    ]);
  });

  it('names the masked path whose mount failed', () => {
    kernel.fail('mount', 'EPERM');
    expect(() => finishRootfs(kernel, config({}, { maskedPaths: ['/proc/version'] }))).toThrow(/linux\.maskedPaths: \/proc\/version: mount/);
  });
});

describe('openNullDevice', () => {
  const root = () => openRoot(rootfs);

  it('refuses a /dev/null that is a file: masking with it would bind a file of the image', () => {
    mkdirSync(at('dev'));
    writeFileSync(at('dev', 'null'), '');
    const fd = root();
    try {
      expect(() => openNullDevice(fd)).toThrow('/dev/null cannot mask anything: it is not the character device 1:3');
    } finally {
      close(fd);
    }
  });

  it('refuses a /dev/null that is a symlink, even to the real one', () => {
    mkdirSync(at('dev'));
    symlinkSync('/dev/null', at('dev', 'null'));
    const fd = root();
    try {
      expect(() => openNullDevice(fd)).toThrow(/\/dev\/null cannot mask anything: ELOOP/);
    } finally {
      close(fd);
    }
  });

  it('accepts the character device 1:3', () => {
    const fd = openRoot('/');
    try {
      const nullFd = openNullDevice(fd);
      expect(readlinkSync(`/proc/self/fd/${nullFd}`)).toBe('/dev/null');
      close(nullFd);
    } finally {
      close(fd);
    }
  });
});

describe('setupDev alone', () => {
  it("replaces what the image has at a device's path (here a symlink to a host file) instead of following it", () => {
    mkdirSync(at('dev'));
    symlinkSync('/etc/passwd', at('dev', 'null'));
    const fd = openRoot(rootfs);
    try {
      setupDev(kernel, fd, [], false);
    } finally {
      close(fd);
    }
    expect(existsSync(at('dev', 'null'))).toBe(false); // unlinked: the double made no node in its place
    expect(kernel.indexOf('mknodat', at('dev'), 'null')).toBeGreaterThanOrEqual(0);
    expect(kernel.only('fchmodat')).toEqual([]);
  });
});
