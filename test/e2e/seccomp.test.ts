// linux.seccomp: filters built with libseccomp and loaded by the init, as
// seen from inside the container (what a denied system call returns, which
// signal kills the process), the default profile of podman and Docker,
// profiles older than the kernel (ENOSYS for what they cannot know), the
// notify fd handed to a listener, and profiles refused at create time
// without leaving anything behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, isRoot, makeBundle, processesMentioning, runInContainer, uniqueId, waitFor, type BundleConfig } from '../helpers/ocirun.js';
import {
  CONTAINERS_SECCOMP_JSON,
  loadContainersProfile,
  runtimeToolsProfile,
  syscallsOf2018,
  toOciSeccomp,
  type OciSeccomp,
} from '../helpers/seccomp-profile.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

const LISTENER = fileURLToPath(new URL('../helpers/seccomp-listener.py', import.meta.url));

function withSeccomp(seccomp: OciSeccomp, more?: (c: BundleConfig) => void): (c: BundleConfig) => void {
  return (c) => {
    c.linux.seccomp = seccomp;
    more?.(c);
  };
}

const allowAllBut = (syscalls: OciSeccomp['syscalls']): OciSeccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls });

// busybox's mkdir calls mkdir(2) on x86_64; mkdirat(2) elsewhere.
const MKDIR = ['mkdir', 'mkdirat'];

/** `ocirun create` of a bundle that must be refused: the first line of stderr, after checking nothing is left. */
function refusedCreate(mutate: (c: BundleConfig) => void): string {
  const bundle = makeBundle({ args: ['true'], mutate });
  const id = uniqueId('bad');
  try {
    const r = rt.run(['create', '--bundle', bundle.dir, id]);
    expect(r.code, r.stderr).toBe(1);
    expect(rt.containerIds(), 'state left behind').not.toContain(id);
    expect(processesMentioning(id), 'process left behind').toEqual([]);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^ocirun: /);
    return r.stderr;
  } finally {
    bundle.cleanup();
  }
}

describe.skipIf(!isRoot)('seccomp', () => {
  it('denies a system call with EPERM and lets the others through', () => {
    const r = runInContainer(
      rt,
      'grep -E "^Seccomp:" /proc/self/status; mkdir /tmp/x; echo "mkdir=$?"; echo still here',
      withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_ERRNO' }])),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(r.stderr).toContain("mkdir: can't create directory '/tmp/x': Operation not permitted");
    expect(r.stdout).toContain('mkdir=1\nstill here');
  });

  it('kills the process with SIGSYS for SCMP_ACT_KILL_PROCESS', () => {
    const kill = withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_KILL_PROCESS' }]));
    // A child of the shell: the shell sees it die of signal 31.
    const child = runInContainer(rt, 'mkdir /tmp/x; echo "status=$?"', kill);
    expect(child.stdout, child.stderr).toContain('status=159');
    // The container's process itself: ocirun run exits 128+31.
    const direct = runInContainer(rt, 'exec mkdir /tmp/x', kill);
    expect(direct.code, direct.stderr).toBe(128 + 31);
  });

  it('returns the errnoRet given (ENOSYS)', () => {
    const r = runInContainer(rt, 'mkdir /tmp/x', withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_ERRNO', errnoRet: 38 }])));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("can't create directory '/tmp/x': Function not implemented");
  });

  it('returns defaultErrnoRet for the system calls no rule allows', () => {
    // The podman profile (an allow list) without the mkdir family, and EOPNOTSUPP as the default errno.
    const r = runInContainer(rt, 'mkdir /tmp/x', (c) => {
      const profile = toOciSeccomp(loadContainersProfile(), c.process.capabilities?.bounding ?? []);
      profile.defaultErrnoRet = 95;
      profile.syscalls = profile.syscalls.map((s) => ({ ...s, names: s.names.filter((n) => !MKDIR.includes(n)) })).filter((s) => s.names.length > 0);
      c.linux.seccomp = profile;
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/can't create directory '\/tmp\/x': (Operation )?not supported/i);
  });

  it('filters on arguments: kill with signal 0 is denied, other signals are not', () => {
    const seccomp = allowAllBut([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0, op: 'SCMP_CMP_EQ' }] }]);
    const r = runInContainer(rt, 'kill -0 $$ && echo zero-allowed || echo zero-denied; kill -CONT $$ && echo cont-allowed', withSeccomp(seccomp));
    expect(r.stdout).toContain('zero-denied');
    expect(r.stdout).toContain('cont-allowed');
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it('filters on a masked argument (SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the result)', () => {
    // (signal & 0xf0) == 0x10: signals 16 to 31 are refused with EACCES, 0 to 15 are not.
    const seccomp = allowAllBut([
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 1, value: 0xf0, valueTwo: 0x10, op: 'SCMP_CMP_MASKED_EQ' }] },
    ]);
    const r = runInContainer(rt, 'kill -0 $$ && echo zero-allowed; kill -CONT $$ || echo cont-denied', withSeccomp(seccomp));
    expect(r.stdout).toContain('zero-allowed');
    expect(r.stdout).toContain('cont-denied');
    expect(r.stderr).toContain('Permission denied');
  });

  it('reads argument values above 2^53 exactly from config.json', () => {
    // 18446744073709551615 (2^64-1) as a mask: JSON.parse would make it 2^64.
    // MASKED_EQ(mask all ones, 0) matches only signal 0; a rounded mask would match every signal.
    const bundle = makeBundle({
      args: ['sh', '-c', 'kill -0 $$ || echo zero-denied; kill -CONT $$ && echo cont-allowed'],
      mutate: withSeccomp(allowAllBut([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }])),
    });
    try {
      const text = readFileSync(bundle.configPath, 'utf8');
      const patched = text.replace(/("index": 1,\s*"value": )0/, '$118446744073709551615');
      expect(patched).not.toBe(text);
      // Written as text: the bundle's write() goes through JSON.stringify, which would round it again.
      writeFileSync(bundle.configPath, patched);
      const r = rt.run(['run', '--bundle', bundle.dir, uniqueId()]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('zero-denied');
      expect(r.stdout).toContain('cont-allowed');
    } finally {
      bundle.cleanup();
    }
  });

  it('ignores a system call name libseccomp does not know (and says so with --debug)', () => {
    const bundle = makeBundle({
      args: ['sh', '-c', 'mkdir /tmp/x'],
      mutate: withSeccomp(allowAllBut([{ names: ['no_such_syscall_ocirun', ...MKDIR], action: 'SCMP_ACT_ERRNO' }])),
    });
    try {
      const r = rt.run(['--root', rt.root, '--debug', 'run', '--bundle', bundle.dir, uniqueId()], { globals: [] });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Operation not permitted');
      expect(r.stderr).toMatch(/unknown system call \\?"no_such_syscall_ocirun\\?".*ignored/);
    } finally {
      bundle.cleanup();
    }
  });

  it('takes the flags libseccomp supports (TSYNC, LOG, SPEC_ALLOW) and SCMP_ACT_TRAP', () => {
    const r = runInContainer(
      rt,
      'mkdir /tmp/x; echo "status=$?"',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
        syscalls: [{ names: MKDIR, action: 'SCMP_ACT_TRAP' }],
      }),
    );
    expect(r.stdout, r.stderr).toContain('status=159'); // SIGSYS, delivered as a trap
  });

  it("applies the container's filter to exec'd processes", () => {
    const bundle = makeBundle({ args: ['sleep', '1000'], mutate: withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_ERRNO', errnoRet: 38 }])) });
    const id = uniqueId('exec');
    try {
      rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
      const r = rt.run(['exec', id, 'mkdir', '/tmp/y']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('Function not implemented');
    } finally {
      rt.run(['delete', '-f', id]);
      bundle.cleanup();
    }
  });

  it('loads before the credentials change when noNewPrivileges is false', () => {
    const r = runInContainer(
      rt,
      'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; mkdir /tmp/x',
      withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]), (c) => {
        c.process.noNewPrivileges = false;
        c.process.user = { uid: 1000, gid: 1000 };
      }),
    );
    expect(r.stdout).toMatch(/^NoNewPrivs:\s+0$/m);
    expect(r.stdout).toMatch(/^Seccomp:\s+2$/m);
    expect(r.stderr).toContain('Function not implemented');
  });

  it(`runs a shell under the default profile of podman and Docker (${CONTAINERS_SECCOMP_JSON})`, () => {
    for (const noNewPrivileges of [true, false]) {
      const r = runInContainer(rt, 'echo ok; ls /; grep -E "^Seccomp_filters:" /proc/self/status', (c) => {
        c.process.noNewPrivileges = noNewPrivileges;
        c.linux.seccomp = toOciSeccomp(loadContainersProfile(), c.process.capabilities?.bounding ?? []);
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^ok\n/);
      expect(r.stdout).toMatch(/^bin$/m);
      expect(r.stdout).toMatch(/^proc$/m);
      expect(r.stdout).toMatch(/^Seccomp_filters:\s+1$/m);
    }
  });

  describe('profiles older than the kernel', () => {
    const NEW_CALLS = ['clone3', 'openat2', 'close_range', 'faccessat2', 'fchmodat2'];
    let probe = '';
    beforeAll(() => {
      probe = rt.scratchPath('syscall-probe');
      const built = spawnSync('gcc', ['-static', '-Os', '-s', '-o', probe, fileURLToPath(new URL('../../fixtures/syscall-probe.c', import.meta.url))]);
      if (built.status !== 0) throw new Error(`building fixtures/syscall-probe.c: ${built.stderr?.toString() ?? built.error}`);
    });

    /** What each probed call returned in a container under `seccomp`, and the fds its shell had open (`ls` runs as a child, not exec'd). */
    function probeUnder(seccomp: OciSeccomp, noNewPrivileges: boolean, calls: string[]): { errnos: Record<string, string>; fds: string } {
      const bundle = makeBundle({
        args: ['sh', '-c', `ls /proc/$$/fd; echo :fds; /syscall-probe ${calls.join(' ')}`],
        mutate: withSeccomp(seccomp, (c) => {
          c.process.noNewPrivileges = noNewPrivileges;
        }),
      });
      try {
        copyFileSync(probe, path.join(bundle.rootfs, 'syscall-probe'));
        const r = rt.run(['run', '--bundle', bundle.dir, uniqueId('old')]);
        expect(r.code, r.stderr).toBe(0);
        const errnos = Object.fromEntries([...r.stdout.matchAll(/^(\w+)=(\w+)$/gm)].map((m) => [m[1], m[2]]));
        return { errnos, fds: r.stdout.split(':fds\n')[0].trim().split('\n').join(' ') };
      } finally {
        bundle.cleanup();
      }
    }

    // Allows every call of Linux 4.20 but mkdir/mkdirat (EACCES by name) and
    // setns (not named: the default EPERM); everything newer is unknown to it.
    const profileOf2018 = (): OciSeccomp => {
      const denied = ['mkdir', 'mkdirat', 'setns'];
      return {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          { names: syscallsOf2018().filter((n) => !denied.includes(n)), action: 'SCMP_ACT_ALLOW' },
          { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        ],
      };
    };

    for (const noNewPrivileges of [false, true]) {
      it(`under a profile of 2018, calls newer than all it names get ENOSYS, the others its errnos (noNewPrivileges ${noNewPrivileges})`, () => {
        const { errnos, fds } = probeUnder(profileOf2018(), noNewPrivileges, [...NEW_CALLS, 'mkdirat', 'setns', 'getcpu']);
        expect(errnos).toEqual({
          clone3: 'ENOSYS',
          openat2: 'ENOSYS',
          close_range: 'ENOSYS',
          faccessat2: 'ENOSYS',
          fchmodat2: 'ENOSYS',
          mkdirat: 'EACCES',
          setns: 'EPERM',
          getcpu: '0',
        });
        expect(fds).toBe('0 1 2');
      });

      it(`runs under the runtime-tools default profile: ENOSYS above landlock, its EPERM below (noNewPrivileges ${noNewPrivileges})`, () => {
        // The profile names landlock_* (Linux 5.13): the 5.3-5.8 calls sit in a
        // hole below it and keep EPERM, so the init must not need close_range.
        const { errnos, fds } = probeUnder(runtimeToolsProfile(), noNewPrivileges, [...NEW_CALLS, 'mkdirat', 'setns', 'getcpu']);
        expect(errnos).toEqual({
          clone3: 'EPERM',
          openat2: 'EPERM',
          close_range: 'EPERM',
          faccessat2: 'EPERM',
          fchmodat2: 'ENOSYS',
          mkdirat: 'EFAULT',
          setns: 'EPERM',
          getcpu: '0',
        });
        expect(fds).toBe('0 1 2');
      });
    }

    it("runs startContainer hooks under a profile of 2018: glibc's posix_spawn falls back from clone3 and close_range", () => {
      // The hook is spawned by the init, under the filter (noNewPrivileges false).
      const r = runInContainer(
        rt,
        'echo ran',
        withSeccomp(profileOf2018(), (c) => {
          c.process.noNewPrivileges = false;
          c.hooks = { startContainer: [{ path: '/bin/true' }] };
        }),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('ran\n');
    });

    it('execs into a container under the runtime-tools default profile, passing only stdio (noNewPrivileges false)', () => {
      // exec forks a second time to enter the pid namespace: the fds are listed for that process.
      const bundle = makeBundle({
        args: ['sleep', '1000'],
        mutate: withSeccomp(runtimeToolsProfile(), (c) => {
          c.process.noNewPrivileges = false;
        }),
      });
      const id = uniqueId('oldexec');
      try {
        rt.ok(['run', '-d', '--bundle', bundle.dir, id]);
        const r = rt.run(['exec', id, 'sh', '-c', 'ls /proc/$$/fd; true']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.trim().split('\n')).toEqual(['0', '1', '2']);
      } finally {
        rt.run(['delete', '-f', id]);
        bundle.cleanup();
      }
    });

    it('keeps the default action for an allow-list whose default errno is ENOSYS already, and for deny-lists', () => {
      const allowList = { ...profileOf2018(), defaultErrnoRet: 38 };
      expect(probeUnder(allowList, true, ['clone3', 'setns']).errnos).toEqual({ clone3: 'ENOSYS', setns: 'ENOSYS' });
      const denyList = allowAllBut([{ names: ['mkdirat', 'mkdir'], action: 'SCMP_ACT_ERRNO' }]);
      expect(probeUnder(denyList, true, ['clone3', 'mkdirat']).errnos).toEqual({ clone3: 'EINVAL', mkdirat: 'EPERM' });
    });
  });

  describe('SCMP_ACT_NOTIFY', () => {
    let agent: ChildProcess | undefined;
    afterEach(() => {
      agent?.kill();
      agent = undefined;
    });

    function startAgent(name: string): { socket: string; output: string } {
      const socket = rt.scratchPath(`${name}.sock`);
      const output = rt.scratchPath(`${name}.json`);
      rmSync(socket, { force: true });
      agent = spawn('python3', [LISTENER, socket, output], { stdio: 'inherit' });
      waitFor(() => existsSync(`${output}.ready`), 'the seccomp agent to listen');
      return { socket, output };
    }

    for (const noNewPrivileges of [true, false]) {
      it(`sends the notify fd and the container process state to listenerPath (noNewPrivileges ${noNewPrivileges})`, () => {
        const { socket, output } = startAgent(`agent-${noNewPrivileges}`);
        const id = uniqueId('notify');
        const bundle = makeBundle({
          args: ['sh', '-c', 'mkdir /tmp/x; echo "mkdir=$?"'],
          mutate: (c) => {
            c.process.noNewPrivileges = noNewPrivileges;
            c.annotations = { 'org.example.key': 'value' };
            c.linux.seccomp = {
              defaultAction: 'SCMP_ACT_ALLOW',
              listenerPath: socket,
              listenerMetadata: 'MKDIR=/tmp/x',
              syscalls: [{ names: MKDIR, action: 'SCMP_ACT_NOTIFY' }],
            };
          },
        });
        try {
          const r = rt.run(['run', '--bundle', bundle.dir, id]);
          // The agent closed the fd without answering: the kernel fails notified calls with ENOSYS.
          expect(r.stdout, r.stderr).toContain('mkdir=1');
          expect(r.stderr).toContain('Function not implemented');
          waitFor(() => existsSync(output), 'the agent output');
          const got = JSON.parse(readFileSync(output, 'utf8')) as { payload: string; fds: string[] };
          expect(got.fds).toEqual(['anon_inode:seccomp notify']);
          const processState = JSON.parse(got.payload);
          expect(processState).toMatchObject({
            ociVersion: expect.any(String),
            fds: ['seccompFd'],
            pid: expect.any(Number),
            metadata: 'MKDIR=/tmp/x',
            state: { id, status: 'creating', bundle: bundle.dir, annotations: { 'org.example.key': 'value' } },
          });
          expect(processState.state.pid).toBe(processState.pid);
        } finally {
          bundle.cleanup();
        }
      });
    }

    it('fails create, leaving nothing, when nobody listens at listenerPath', () => {
      const stderr = refusedCreate(
        withSeccomp({
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: rt.scratchPath('nobody.sock'),
          syscalls: [{ names: MKDIR, action: 'SCMP_ACT_NOTIFY' }],
        }),
      );
      expect(stderr).toMatch(/linux\.seccomp\.listenerPath: cannot connect to .*nobody\.sock: ENOENT/);
    });
  });

  describe('refused profiles leave nothing behind', () => {
    it('an unknown action', () => {
      const stderr = refusedCreate(withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_NOPE' }])));
      expect(stderr).toMatch(/config\.json: \/linux\/seccomp\/syscalls\/0\/action: must be one of "SCMP_ACT_KILL"/);
    });

    it('an unknown operator', () => {
      const stderr = refusedCreate(
        withSeccomp(allowAllBut([{ names: ['kill'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 0, op: 'SCMP_CMP_ALMOST' }] }])),
      );
      expect(stderr).toMatch(/\/linux\/seccomp\/syscalls\/0\/args\/0\/op: must be one of/);
    });

    it('an unknown architecture', () => {
      const stderr = refusedCreate((c) => {
        c.linux.seccomp = { ...allowAllBut([]), architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_VAX'] };
      });
      expect(stderr).toMatch(/\/linux\/seccomp\/architectures\/1: must be one of/);
    });

    it("an errnoRet that does not fit in seccomp's 16 bits", () => {
      const stderr = refusedCreate(withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_ERRNO', errnoRet: 70000 }])));
      expect(stderr).toContain('config.json: /linux/seccomp/syscalls/0/errnoRet: must be at most 65535');
    });

    it('SCMP_ACT_NOTIFY without a listenerPath, or as the default action', () => {
      expect(refusedCreate(withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_NOTIFY' }])))).toContain(
        'config.json: /linux/seccomp/listenerPath: is required when a rule uses SCMP_ACT_NOTIFY',
      );
      expect(refusedCreate(withSeccomp({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/nonexistent.sock', syscalls: [] }))).toContain(
        'config.json: /linux/seccomp/defaultAction: SCMP_ACT_NOTIFY cannot be the default action',
      );
    });

    it('SCMP_ACT_NOTIFY on write, which the runtime needs to hand the fd over', () => {
      const stderr = refusedCreate(
        withSeccomp({
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: '/nonexistent.sock',
          syscalls: [{ names: ['getpid', 'write'], action: 'SCMP_ACT_NOTIFY' }],
        }),
      );
      expect(stderr).toContain('config.json: /linux/seccomp/syscalls/0/names/1: SCMP_ACT_NOTIFY cannot be used for write');
    });

    it('errnoRet with an action that has no errno', () => {
      const stderr = refusedCreate(withSeccomp(allowAllBut([{ names: MKDIR, action: 'SCMP_ACT_KILL', errnoRet: 1 }])));
      expect(stderr).toContain('/linux/seccomp/syscalls/0/errnoRet: can only be used with SCMP_ACT_ERRNO or SCMP_ACT_TRACE');
    });
  });
});
