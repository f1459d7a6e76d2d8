// Hooks (config.md "POSIX-platform Hooks"): each kind leaves markers in a host
// directory saying when it ran (its place in the order), where (its mount
// namespace) and what it was told (the state on stdin); failures abort create
// or start and leave nothing behind; poststop runs on delete.
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, bundleWithOutbox, isRoot, makeBundle, processesMentioning, uniqueId, waitFor, type BundleConfig } from '../helpers/ocirun.js';
import type { BundleHook } from '../../fixtures/bundle.mjs';

const rt = new Runtime();
afterAll(() => rt.dispose());

const KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
type Kind = (typeof KINDS)[number];

type OciHook = BundleHook;

/**
 * A hook that records its kind in `<dir>/order`, its mount namespace, its
 * stdin, $0 and its environment; `dir` as the hook sees it (startContainer
 * hooks run in the container, where the outbox is /out).
 */
function recordingHook(kind: Kind, dir: string): OciHook {
  const script = [
    `echo ${kind} >> ${dir}/order`,
    `readlink /proc/self/ns/mnt > ${dir}/${kind}.ns`,
    `cat > ${dir}/${kind}.json`,
    `echo "$0" > ${dir}/${kind}.argv0`,
    `env > ${dir}/${kind}.env`,
    // poststart: what the container's process is by then.
    `pid=$(sed 's/.*"pid":\\([0-9]*\\).*/\\1/' ${dir}/${kind}.json)`,
    `tr '\\0' ' ' < /proc/$pid/cmdline > ${dir}/${kind}.cmdline 2>/dev/null || true`,
  ].join('; ');
  return { path: '/bin/sh', args: ['sh', '-c', script, `argv0-${kind}`], env: ['PATH=/usr/bin:/bin', `HOOK_KIND=${kind}`] };
}

/** Every kind recording into the outbox (which startContainer hooks, inside the container, see at /out). */
function recordEveryKind(c: BundleConfig): void {
  const outbox = c.mounts.find((m) => m.destination === '/out')!.source!;
  c.hooks = Object.fromEntries(KINDS.map((kind) => [kind, [recordingHook(kind, kind === 'startContainer' ? '/out' : outbox)]]));
}

const failingHook = (code: number, words: string): OciHook => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${words} >&2; exit ${code}`] });

function cgroupDirsNamed(name: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((controller) => path.join('/sys/fs/cgroup', controller, name))
    .filter((dir) => existsSync(dir));
}

describe.skipIf(!isRoot)('hooks', () => {
  it('runs every kind in order, in the namespace the spec says, with the state on stdin', () => {
    const id = uniqueId('hooks');
    const { bundle, out } = bundleWithOutbox(rt, '', (c) => {
      c.process.args = ['sleep', '30'];
      c.annotations = { 'org.example.hook-test': 'yes' };
      recordEveryKind(c);
    });
    try {
      rt.ok(['create', '--bundle', bundle.dir, id], { env: { ...process.env, RUNTIME_ONLY_VARIABLE: '1' } });
      const pid = rt.state(id).pid;
      const containerMnt = readlinkSync(`/proc/${pid}/ns/mnt`);
      expect(out('order').split('\n').filter(Boolean)).toEqual(['prestart', 'createRuntime', 'createContainer']);
      rt.ok(['start', id]);
      expect(out('order').split('\n').filter(Boolean)).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']);
      // poststart runs once the container's process is the user's program.
      expect(out('poststart.cmdline').trim()).toBe('sleep 30');
      rt.ok(['kill', id, 'KILL']);
      rt.ok(['delete', id]);
      expect(out('order').split('\n').filter(Boolean)).toEqual([...KINDS]);

      const hostMnt = readlinkSync('/proc/self/ns/mnt');
      expect(containerMnt).not.toBe(hostMnt);
      for (const kind of KINDS) {
        const inContainer = kind === 'createContainer' || kind === 'startContainer';
        expect(out(`${kind}.ns`).trim(), kind).toBe(inContainer ? containerMnt : hostMnt);
        const state = JSON.parse(out(`${kind}.json`));
        expect(state, kind).toMatchObject({ id, pid, bundle: bundle.dir, annotations: { 'org.example.hook-test': 'yes' } });
        expect(state.ociVersion, kind).toMatch(/^1\./);
        expect(out(`${kind}.argv0`).trim(), kind).toBe(`argv0-${kind}`);
        expect(out(`${kind}.env`), kind).toContain(`HOOK_KIND=${kind}`);
        expect(out(`${kind}.env`), kind).not.toContain('RUNTIME_ONLY_VARIABLE');
      }
      const statuses = KINDS.map((kind) => JSON.parse(out(`${kind}.json`)).status);
      expect(statuses).toEqual(['created', 'created', 'created', 'created', 'running', 'stopped']);
    } finally {
      rt.run(['delete', '--force', id]);
      bundle.cleanup();
    }
  });

  it('runs the hooks of a foreground run that joins a namespace by path (the init forks twice)', () => {
    const id = uniqueId('hooks-run');
    const { bundle, out } = bundleWithOutbox(rt, 'echo in-container', (c) => {
      recordEveryKind(c);
      c.linux.namespaces = c.linux.namespaces.map((ns) => (ns.type === 'network' ? { type: 'network', path: `/proc/${process.pid}/ns/net` } : ns));
    });
    try {
      const r = rt.ok(['run', '--bundle', bundle.dir, id]);
      expect(r.stdout).toBe('in-container\n');
      expect(out('order').split('\n').filter(Boolean)).toEqual([...KINDS]);
      expect(rt.containerIds()).not.toContain(id);
    } finally {
      bundle.cleanup();
    }
  });

  /** A create refused by a failing hook: its error line, after checking nothing is left. */
  function createFailingAt(mutate: (c: BundleConfig) => void): { error: string; out: (name: string) => string } {
    const id = uniqueId('hookfail');
    const cgroupName = `ocirun-test-${id}`;
    const { bundle, out } = bundleWithOutbox(rt, 'true', (c) => {
      const outbox = c.mounts.find((m) => m.destination === '/out')!.source!;
      c.linux.cgroupsPath = `/${cgroupName}`;
      c.hooks = { poststop: [recordingHook('poststop', outbox)] };
      mutate(c);
    });
    try {
      const r = rt.run(['create', '--bundle', bundle.dir, id]);
      expect(r.code, r.stderr).not.toBe(0);
      expect(rt.containerIds(), 'state left behind').not.toContain(id);
      expect(cgroupDirsNamed(cgroupName), 'cgroup left behind').toEqual([]);
      expect(processesMentioning(id), 'process left behind').toEqual([]);
      return { error: r.stderr.trim(), out };
    } finally {
      rt.run(['delete', '--force', id]);
      bundle.cleanup();
    }
  }

  it('a failing createRuntime hook aborts create, leaves nothing, and poststop still runs', () => {
    const { error, out } = createFailingAt((c) => {
      c.hooks!.createRuntime = [{ path: '/bin/true' }, failingHook(3, 'no network for you')];
    });
    expect(error).toMatch(/createRuntime hook #1 \(\/bin\/sh\) exited with status 3: no network for you/);
    expect(error.split('\n')).toHaveLength(1);
    expect(JSON.parse(out('poststop.json')).status).toBe('stopped');
  });

  it('a failing prestart or createContainer hook aborts create the same way', () => {
    let { error } = createFailingAt((c) => {
      c.hooks!.prestart = [failingHook(1, 'prestart says no')];
    });
    expect(error).toMatch(/prestart hook #0 \(\/bin\/sh\) exited with status 1: prestart says no/);
    ({ error } = createFailingAt((c) => {
      c.hooks!.createContainer = [failingHook(4, 'inside says no')];
    }));
    expect(error).toMatch(/createContainer hook #0 \(\/bin\/sh\) exited with status 4: inside says no/);
  });

  it('a hook past its timeout is killed, and one that cannot be started is named', () => {
    let { error } = createFailingAt((c) => {
      c.hooks!.createRuntime = [{ path: '/bin/sleep', args: ['sleep', '60'], timeout: 1 }];
    });
    expect(error).toMatch(/createRuntime hook #0 \(\/bin\/sleep\) timed out after 1 s and was killed/);
    ({ error } = createFailingAt((c) => {
      c.hooks!.createContainer = [{ path: '/no/such/hook' }];
    }));
    expect(error).toMatch(/createContainer hook #0 \(\/no\/such\/hook\) could not be started: ENOENT/);
  });

  it('a failing startContainer hook fails start and the container is stopped', () => {
    const id = uniqueId('hookstart');
    const bundle = makeBundle({
      args: ['sleep', '30'],
      mutate: (c) => {
        c.hooks = { startContainer: [failingHook(2, 'ldconfig failed')] };
      },
    });
    try {
      rt.ok(['create', '--bundle', bundle.dir, id]);
      const r = rt.run(['start', id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/startContainer hook #0 \(\/bin\/sh\) exited with status 2: ldconfig failed/);
      expect(rt.state(id).status).toBe('stopped');
      rt.ok(['delete', id]);
      expect(processesMentioning(id)).toEqual([]);
    } finally {
      rt.run(['delete', '--force', id]);
      bundle.cleanup();
    }
  });

  it('an execve that fails: without poststart hooks start returns first (as runc), with them start reports it', () => {
    // create finds the executable; the kernel refuses its format only at execve (ENOEXEC).
    const notABinary = (c: BundleConfig) => (c.process.args = ['/bin/not-a-binary']);
    for (const withHook of [false, true]) {
      const id = uniqueId('execfail');
      const bundle = makeBundle({
        args: ['true'],
        mutate: (c) => {
          notABinary(c);
          if (withHook) c.hooks = { poststart: [{ path: '/bin/true' }] };
        },
      });
      writeFileSync(path.join(bundle.rootfs, 'bin/not-a-binary'), 'neither ELF nor #!\n', { mode: 0o755 });
      try {
        rt.ok(['create', '--bundle', bundle.dir, id]);
        const start = rt.run(['start', id]);
        if (withHook) {
          expect(start.code).toBe(1);
          expect(start.stderr).toMatch(/^ocirun: .*\/bin\/not-a-binary.*ENOEXEC/);
        } else {
          expect([start.code, start.stderr]).toEqual([0, '']);
        }
        // Without the hook, the init may still be on its way to the failing execve.
        waitFor(() => rt.state(id).status === 'stopped', 'the init to exit');
        rt.ok(['delete', id]);
      } finally {
        rt.run(['delete', '--force', id]);
        bundle.cleanup();
      }
    }
  });

  it('a failing poststart hook fails start (exit 1, as runc) and destroys the container; a failing poststop hook only warns', () => {
    const id = uniqueId('hookpost');
    const bundle = makeBundle({
      args: ['sleep', '30'],
      mutate: (c) => {
        c.hooks = { poststart: [failingHook(5, 'not ready')], poststop: [failingHook(6, 'cleanup failed')] };
      },
    });
    try {
      rt.ok(['create', '--bundle', bundle.dir, id]);
      const cgroupFile = readFileSync(`/proc/${rt.state(id).pid}/cgroup`, 'utf8');
      const start = rt.run(['start', id]);
      expect(start.code).toBe(1);
      // runtime.md "Lifecycle" steps 9, 12, 13: stopped, destroyed, then the poststop hooks.
      expect(start.stderr).toMatch(/poststop hook #0 \(\/bin\/sh\) exited with status 6: cleanup failed/);
      expect(start.stderr).toMatch(/poststart hook #0 \(\/bin\/sh\) exited with status 5: not ready\n$/);
      expect(rt.containerIds()).not.toContain(id);
      expect(processesMentioning(id)).toEqual([]);
      const memory = /^\d+:memory:(.*)$/m.exec(cgroupFile)?.[1];
      if (memory) expect(existsSync(`/sys/fs/cgroup/memory${memory}`)).toBe(false);
      // run the same way: exit 1, nothing left.
      const runId = uniqueId('hookpost');
      const run = rt.run(['run', '--bundle', bundle.dir, runId]);
      expect(run.code).toBe(1);
      expect(rt.containerIds()).not.toContain(runId);
    } finally {
      rt.run(['delete', '--force', id]);
      bundle.cleanup();
    }
  });

  it('features lists every hook kind', () => {
    expect(JSON.parse(rt.ok(['features']).stdout).hooks).toEqual([...KINDS]);
  });

  it('refuses a relative hook path or a zero timeout, naming the field', () => {
    for (const [hook, field] of [
      [{ path: 'bin/true' }, '/hooks/createRuntime/0/path'],
      [{ path: '/bin/true', timeout: 0 }, '/hooks/createRuntime/0/timeout'],
    ] as const) {
      const id = uniqueId('hookbad');
      const bundle = makeBundle({ args: ['true'], mutate: (c) => void (c.hooks = { createRuntime: [hook] }) });
      try {
        const r = rt.run(['create', '--bundle', bundle.dir, id]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(field);
        expect(rt.containerIds()).not.toContain(id);
      } finally {
        bundle.cleanup();
      }
    }
  });
});
