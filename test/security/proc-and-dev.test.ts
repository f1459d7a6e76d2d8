// Hostile images against the runtime's own use of /proc and /dev: symlinks
// that turn mount destinations into procfs files (runc CVE-2019-16884,
// CVE-2019-19921, CVE-2023-27561, CVE-2023-28642, CVE-2025-52881), a forged
// /proc the init must never read, a /dev/null that is not the null device
// (CVE-2025-31133), a /dev/console symlink (CVE-2025-52565), and mount
// destinations that are dangling symlinks. Each bundle is what an engine
// would hand over: the image's rootfs plus the usual mounts.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, hostMountsMentioning, isRoot, uniqueId, type Bundle, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

/** A bundle whose rootfs `plant` changes after it is built, as an image would have it. */
function hostileBundle(args: string[], plant: (rootfs: string) => void, mutate?: (c: BundleConfig) => void): Bundle {
  const b = rt.bundle(args, mutate);
  plant(b.rootfs);
  return b;
}

function replaceWithSymlink(file: string, target: string): void {
  rmSync(file, { recursive: true, force: true });
  mkdirSync(path.dirname(file), { recursive: true });
  symlinkSync(target, file);
}

function writeIn(rootfs: string, file: string, text: string): void {
  mkdirSync(path.dirname(path.join(rootfs, file)), { recursive: true });
  writeFileSync(path.join(rootfs, file), text);
}

const withoutMount = (c: BundleConfig, destination: string) => {
  c.mounts = c.mounts.filter((m) => m.destination !== destination);
};

/** Fails with one line on stderr and leaves no container behind. */
function expectRefused(b: Bundle, error: RegExp): void {
  const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
  expect(r.code, r.stdout).not.toBe(0);
  expect(r.stderr).toMatch(error);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(rt.containerIds()).toEqual([]);
  expect(hostMountsMentioning(b.dir)).toEqual([]);
}

/** CapBnd and CapPrm as the container's process sees them through a procfs of its own at `procDir`. */
const capsScript = (procDir: string) => `grep -E '^Cap(Bnd|Prm):' ${procDir}/self/status | tr -s '\\t ' ' '`;

function capsOf(stdout: string): { bnd: string; prm: string } {
  const value = (name: string) => new RegExp(`^${name}: ([0-9a-f]+)$`, 'm').exec(stdout)?.[1] ?? `no ${name} in ${JSON.stringify(stdout)}`;
  return { bnd: value('CapBnd'), prm: value('CapPrm') };
}

describe.skipIf(!isRoot)('mount destinations that lead into procfs', () => {
  it('a bind onto /etc/hostname, a symlink to /proc/sys/kernel/cap_last_cap, is refused', () => {
    const hostname = rt.scratchPath(`hostname-${uniqueId()}`);
    writeFileSync(hostname, 'not-a-number\n');
    const b = hostileBundle(
      ['true'],
      (rootfs) => replaceWithSymlink(path.join(rootfs, 'etc/hostname'), '/proc/sys/kernel/cap_last_cap'),
      (c) => c.mounts.push({ destination: '/etc/hostname', type: 'bind', source: hostname, options: ['rbind', 'rw'] }),
    );
    expectRefused(b, /^ocirun: .*mount \/etc\/hostname .*on procfs/);
    expect(readFileSync(hostname, 'utf8')).toBe('not-a-number\n');
  });

  it('a volume whose destination links to /proc/self is refused; the host files behind it stay untouched', () => {
    const volume = rt.scratchPath(`volume-${uniqueId()}`);
    mkdirSync(volume);
    writeFileSync(path.join(volume, 'oom_score_adj'), 'precious\n');
    writeFileSync(path.join(volume, 'setgroups'), 'deny\n');
    const b = hostileBundle(
      ['true'],
      (rootfs) => replaceWithSymlink(path.join(rootfs, 'data'), '/proc/self'),
      (c) => {
        c.process.oomScoreAdj = 7;
        c.mounts.push({ destination: '/data', type: 'bind', source: volume, options: ['rbind', 'rw'] });
      },
    );
    expectRefused(b, /^ocirun: .*mount \/data .*on procfs/);
    expect(readFileSync(path.join(volume, 'oom_score_adj'), 'utf8')).toBe('precious\n');
  });

  it('a /proc that is a symlink gets no proc mount', () => {
    const b = hostileBundle(['true'], (rootfs) => replaceWithSymlink(path.join(rootfs, 'proc'), '/tmp'));
    expectRefused(b, /^ocirun: .*mount \/proc \(proc.*symlink/);
    expect(existsSync(path.join(b.rootfs, 'tmp/self'))).toBe(false);
  });

  it('files that lxcfs covers, named without a symlink, may be bind-mounted over', () => {
    const fake = rt.scratchPath(`lxcfs-${uniqueId()}`);
    writeFileSync(fake, 'covered\n');
    const b = rt.bundle(['cat', '/proc/cpuinfo', '/sys/devices/system/cpu/online'], (c) => {
      for (const destination of ['/proc/cpuinfo', '/sys/devices/system/cpu/online']) {
        c.mounts.push({ destination, type: 'bind', source: fake, options: ['bind', 'ro'] });
      }
    });
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('covered\ncovered\n');
  });

  it('a tmpfs over /proc/sys, a directory of procfs, is refused', () => {
    const b = hostileBundle(
      ['true'],
      () => {},
      (c) => c.mounts.push({ destination: '/proc/sys', type: 'tmpfs', source: 'tmpfs' }),
    );
    expectRefused(b, /^ocirun: .*mount \/proc\/sys .*on procfs/);
  });
});

describe.skipIf(!isRoot)("the init never reads the container's /proc", () => {
  // The image forges what the init used to read: a bounding set keeping
  // everything, and a cap_last_cap that is no number. proc is mounted
  // elsewhere, so the container's process can tell what it really got.
  const forgeProc = (rootfs: string) => {
    writeIn(rootfs, 'proc/self/status', 'Name:\tforged\nCapBnd:\t000001ffffffffff\n');
    writeIn(rootfs, 'proc/self/oom_score_adj', 'forged\n');
    writeIn(rootfs, 'proc/sys/kernel/cap_last_cap', 'garbage\n');
    mkdirSync(path.join(rootfs, 'realproc'));
  };
  const procElsewhere = (c: BundleConfig) => {
    withoutMount(c, '/proc');
    c.mounts.push({ destination: '/realproc', type: 'proc', source: 'proc' });
    c.process.oomScoreAdj = 3;
  };

  it('create: without a proc mount at /proc, the bounding set is still dropped', () => {
    const b = hostileBundle(['sh', '-c', capsScript('/realproc')], forgeProc, procElsewhere);
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const caps = capsOf(r.stdout);
    expect(caps.bnd).toBe(caps.prm);
    expect(caps.bnd).not.toBe('000001ffffffffff');
    expect(readFileSync(path.join(b.rootfs, 'proc/self/oom_score_adj'), 'utf8')).toBe('forged\n');
  });

  it('exec: a forged /proc in the running container is not read either', () => {
    const b = hostileBundle(['sleep', '1000'], forgeProc, procElsewhere);
    const id = uniqueId();
    rt.ok(['run', '-d', '--bundle', b.dir, id]);
    try {
      const r = rt.run(['exec', id, 'sh', '-c', capsScript('/realproc')]);
      expect(r.stderr).toBe('');
      const caps = capsOf(r.stdout);
      expect(caps.bnd).toBe(caps.prm);
      expect(caps.bnd).not.toBe('000001ffffffffff');
    } finally {
      rt.run(['delete', '--force', id]);
    }
  });

  it('reads what it needs of its procfs before a seccomp filter that refuses openat2 and readlinkat', () => {
    const b = rt.bundle(['true'], (c) => {
      c.process.noNewPrivileges = false;
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['openat2', 'readlinkat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
      };
    });
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a bind mount onto the root itself, which hides the proc mount, runs', () => {
    const b = rt.bundle(['sh', '-c', 'ls /proc | wc -l; echo ran']);
    b.config.mounts.push({ destination: '/', type: 'bind', source: b.rootfs, options: ['bind'] });
    b.write();
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\nran\n');
  });
});

describe.skipIf(!isRoot)('/dev entries of the image or of a volume', () => {
  it('a /dev/null symlink is replaced by the device, and masks stay empty', () => {
    const b = hostileBundle(
      ['sh', '-c', 'cat /etc/masked; [ -c /dev/null ] && echo null-is-a-device; readlink /dev/null || true'],
      (rootfs) => {
        writeIn(rootfs, 'etc/masked', 'hidden\n');
        writeIn(rootfs, 'etc/leak', 'LEAK\n');
        replaceWithSymlink(path.join(rootfs, 'dev/null'), '/etc/leak');
      },
      (c) => {
        withoutMount(c, '/dev');
        c.linux.maskedPaths = [...(c.linux.maskedPaths ?? []), '/etc/masked'];
      },
    );
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('null-is-a-device\n');
  });

  it("a device node the image already has keeps no mode or owner of the image's", () => {
    const b = hostileBundle(
      ['stat', '-c', '%F %t:%T %a %u:%g', '/dev/null', '/dev/kvm0'],
      (rootfs) => {
        for (const node of ['dev/null', 'dev/kvm0']) {
          rmSync(path.join(rootfs, node), { force: true });
          expect(spawnSync('mknod', ['-m', '0666', path.join(rootfs, node), 'c', '1', '3']).status).toBe(0);
          chownSync(path.join(rootfs, node), 1234, 1234);
        }
      },
      (c) => {
        withoutMount(c, '/dev');
        c.linux.devices = [{ type: 'c', path: '/dev/kvm0', major: 1, minor: 3, fileMode: 0o600, uid: 0, gid: 0 }];
      },
    );
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('character special file 1:3 666 0:0\ncharacter special file 1:3 600 0:0\n');
  });

  it('a /dev/null bind-mounted from a volume is never the source of a mask', () => {
    const fake = rt.scratchPath(`null-${uniqueId()}`);
    writeFileSync(fake, 'LEAK\n');
    const b = hostileBundle(
      ['cat', '/etc/masked'],
      (rootfs) => writeIn(rootfs, 'etc/masked', 'hidden\n'),
      (c) => {
        c.mounts.push({ destination: '/dev/null', type: 'bind', source: fake, options: ['bind'] });
        c.linux.maskedPaths = ['/etc/masked'];
      },
    );
    expectRefused(b, /^ocirun: .*\/dev\/null/);
  });

  it("a /dev/console symlink is not followed by the console's bind mount", () => {
    const b = hostileBundle(
      ['sh', '-c', 'grep -c " /etc/target " /proc/self/mountinfo; grep -c " /dev/console " /proc/self/mountinfo; stat -c %F /etc/target /dev/console'],
      (rootfs) => {
        writeIn(rootfs, 'etc/target', 'original\n');
        replaceWithSymlink(path.join(rootfs, 'dev/console'), '/etc/target');
      },
      (c) => {
        withoutMount(c, '/dev');
        c.process.terminal = true;
      },
    );
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stdout).toBe('0\r\n1\r\nregular file\r\ncharacter special file\r\n');
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(b.rootfs, 'etc/target'), 'utf8')).toBe('original\n');
  });
});

describe.skipIf(!isRoot)('mount destinations that are dangling symlinks', () => {
  it('are created where they point, inside the root', () => {
    const name = `ocirun-dangling-${uniqueId()}`;
    const b = hostileBundle(
      ['sh', '-c', `grep " /${name}/a \\| /srv/${name}/b " /proc/self/mountinfo | cut -d" " -f5,9`],
      (rootfs) => {
        replaceWithSymlink(path.join(rootfs, 'data'), `/${name}/a`);
        replaceWithSymlink(path.join(rootfs, 'etc/vol'), `../../../../srv/${name}/b`);
      },
      (c) => {
        c.mounts.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs' });
        c.mounts.push({ destination: '/etc/vol', type: 'tmpfs', source: 'tmpfs' });
      },
    );
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`/${name}/a tmpfs\n/srv/${name}/b tmpfs\n`);
    expect(existsSync(path.join(b.rootfs, name, 'a'))).toBe(true);
    expect(existsSync(path.join(b.rootfs, 'srv', name, 'b'))).toBe(true);
    expect(existsSync(`/${name}`)).toBe(false);
    expect(existsSync(`/srv/${name}`)).toBe(false);
  });
});
