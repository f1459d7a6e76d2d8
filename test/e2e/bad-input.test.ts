// Bad input, command by command: one clear line naming what is wrong, a
// non-zero exit, and nothing left behind (no state, no process, no mount).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  Runtime,
  hostMountsMentioning,
  isRoot,
  makeBundle,
  processAlive,
  processesMentioning,
  uniqueId,
  type Bundle,
  type BundleConfig,
} from '../helpers/ocirun.js';

const rt = new Runtime();
const bundles: Bundle[] = [];
afterAll(() => {
  for (const b of bundles) b.cleanup();
  rt.dispose();
});

function bundle(mutate?: (c: BundleConfig) => void): Bundle {
  const b = makeBundle({ args: ['true'], mutate });
  bundles.push(b);
  return b;
}

/** Runs a command expected to fail; asserts the one-line error and that nothing was left. */
function expectCleanFailure(args: string[], message: RegExp, opts: { id?: string; bundleDir?: string; globals?: string[] } = {}): string {
  const r = rt.run(args, { globals: opts.globals });
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(message);
  expect(
    lines.every((l) => l.startsWith('ocirun: ')),
    r.stderr,
  ).toBe(true);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(rt.containerIds()).toEqual([]);
  if (opts.id) expect(processesMentioning(opts.id)).toEqual([]);
  if (opts.bundleDir) expect(hostMountsMentioning(opts.bundleDir)).toEqual([]);
  return r.stderr;
}

afterEach(() => {
  expect(rt.containerIds()).toEqual([]);
});

describe.skipIf(!isRoot)('bad input to create and run', () => {
  it('a missing bundle directory', () => {
    const id = uniqueId();
    expectCleanFailure(['create', '--bundle', '/nonexistent/bundle', id], /--bundle: \/nonexistent\/bundle: no such directory/, { id });
    expectCleanFailure(['run', '--bundle', '/nonexistent/bundle', id], /--bundle: \/nonexistent\/bundle: no such directory/, { id });
  });

  it('a bundle without config.json', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ocirun-empty-'));
    try {
      expectCleanFailure(['create', '--bundle', dir, uniqueId()], /config\.json: no such file/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('invalid JSON', () => {
    const b = bundle();
    writeFileSync(b.configPath, '{"ociVersion": "1.3.0",');
    expectCleanFailure(['create', '--bundle', b.dir, uniqueId()], /^ocirun: config\.json: not valid JSON: /);
  });

  it('schema violations name the JSON pointer, one line per problem', () => {
    const b = bundle((c) => {
      c.process.args = [];
      (c.process as Record<string, unknown>).cwd = 42;
    });
    const stderr = expectCleanFailure(['create', '--bundle', b.dir, uniqueId()], /^ocirun: config\.json: \/process\//);
    expect(stderr).toContain('ocirun: config.json: /process/args: must have at least 1 item\n');
    expect(stderr).toMatch(/ocirun: config\.json: \/process\/cwd: must be a string\n/);
  });

  it('an unknown namespace type lists the allowed ones', () => {
    const b = bundle((c) => c.linux.namespaces.push({ type: 'bogus' }));
    expectCleanFailure(['create', '--bundle', b.dir, uniqueId()], /config\.json: \/linux\/namespaces\/\d+\/type: must be one of .*"pid"/);
  });

  it('a missing root directory', () => {
    const b = bundle((c) => (c.root.path = 'no-such-rootfs'));
    expectCleanFailure(['create', '--bundle', b.dir, uniqueId()], /config\.json: \/root\/path: no such directory: .*no-such-rootfs/);
  });

  it('bad container ids', () => {
    const b = bundle();
    for (const id of ['../escape', 'a/b', '.', '..', 'white space', '']) {
      expectCleanFailure(['create', '--bundle', b.dir, id], /invalid container id/);
    }
    expect(readdirSync(path.dirname(rt.root)).filter((n) => n.includes('escape'))).toEqual([]);
  });

  it('a bind mount whose source is missing fails in the init and leaves nothing', () => {
    const b = bundle((c) => c.mounts.push({ destination: '/data', type: 'bind', source: '/nonexistent/source', options: ['rbind'] }));
    const id = uniqueId();
    expectCleanFailure(['create', '--bundle', b.dir, id], /container init: mount \/data .*source \/nonexistent\/source does not exist/, {
      id,
      bundleDir: b.dir,
    });
  });

  it('a missing executable fails at create, as runc does', () => {
    const b = bundle((c) => (c.process.args = ['/bin/no-such-program']));
    const id = uniqueId();
    expectCleanFailure(['create', '--bundle', b.dir, id], /exec: "\/bin\/no-such-program": no such executable/, { id, bundleDir: b.dir });
    b.config.process.args = ['no-such-program'];
    b.write();
    expectCleanFailure(['run', '--bundle', b.dir, id], /executable file not found in \$PATH/, { id, bundleDir: b.dir });
  });

  it('a namespace path that is not a namespace, or of the wrong type', () => {
    const b = bundle((c) => c.linux.namespaces.push({ type: 'cgroup', path: '/etc/hostname' }));
    expectCleanFailure(['create', '--bundle', b.dir, uniqueId()], /cgroup namespace path \/etc\/hostname is not a namespace file/);
    b.config.linux.namespaces = b.config.linux.namespaces.map((ns) => (ns.type === 'cgroup' ? { type: 'cgroup', path: '/proc/self/ns/net' } : ns));
    b.write();
    expectCleanFailure(['create', '--bundle', b.dir, uniqueId()], /cgroup namespace path \/proc\/self\/ns\/net is a net namespace/);
  });

  it('bad flag values', () => {
    const b = bundle();
    expectCleanFailure(['create', '--bundle', b.dir, '--preserve-fds', 'many', uniqueId()], /--preserve-fds: "many" is not a non-negative integer/);
    expectCleanFailure(['create', '--bundle', b.dir], /missing required argument 'container-id'/);
    expectCleanFailure(['create', '--bundle', b.dir, '--no-such-flag', uniqueId()], /unknown option '--no-such-flag'/);
    expectCleanFailure(['--log-format', 'xml', 'list'], /--log-format.*xml.*invalid/i, { globals: ['--root', rt.root] });
    expectCleanFailure(['no-such-command'], /unknown command 'no-such-command'/);
  });

  it('a --log file that cannot be opened is an error, not silence, and nothing is created', () => {
    const b = bundle();
    const id = uniqueId();
    const log = `${b.dir}/no-such-dir/log`;
    const stderr = expectCleanFailure(['run', '--bundle', b.dir, id], /^ocirun: --log .*\/no-such-dir\/log: cannot open it: ENOENT$/, {
      id,
      bundleDir: b.dir,
      globals: ['--root', rt.root, '--log', log],
    });
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe.skipIf(!isRoot)('bad input to the other commands', () => {
  it('kill with an unknown signal leaves the container running', () => {
    const b = makeBundle({ args: ['sleep', '1000'] });
    const id = uniqueId();
    try {
      rt.ok(['run', '-d', '--bundle', b.dir, id]);
      for (const sig of ['SIGNOPE', '0', '65', '-9', 'KILLALL']) {
        const r = rt.run(['kill', id, sig]);
        expect(r.code, sig).toBe(1);
        expect(r.stderr, sig).toMatch(/^ocirun: invalid signal/);
      }
      expect(rt.state(id).status).toBe('running');
      rt.ok(['delete', '-f', id]);
    } finally {
      b.cleanup();
    }
  });

  it('commands without their container id', () => {
    for (const cmd of ['start', 'state', 'kill', 'delete']) {
      expectCleanFailure([cmd], /missing required argument 'container-id'/);
    }
  });

  it('bad ids are refused by every command, never used as a path', () => {
    for (const cmd of ['start', 'state', 'kill', 'delete']) {
      expectCleanFailure([cmd, '../../etc'], /invalid container id/);
    }
  });

  it('a corrupt state file is a clear error, and delete --force still cleans', () => {
    const b = makeBundle({ args: ['sleep', '1000'] });
    const id = uniqueId();
    try {
      rt.ok(['create', '--bundle', b.dir, id]);
      const init = rt.state(id).pid;
      writeFileSync(path.join(rt.root, id, 'state.json'), '{"id": "tru');
      const r = rt.run(['state', id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ocirun: .*state file .* is not valid JSON \(delete --force removes it\)\n$/);
      rt.ok(['delete', '--force', id]);
      expect(rt.containerIds()).toEqual([]);
      expect(processesMentioning(id)).toEqual([]);
      expect(processAlive(init)).toBe(false);
    } finally {
      b.cleanup();
    }
  });

  it('spec refuses to overwrite config.json and needs an existing directory', () => {
    const b = bundle();
    expectCleanFailure(['spec', '--bundle', b.dir], /config\.json exists: remove it first/);
    expectCleanFailure(['spec', '--bundle', '/nonexistent/dir'], /--bundle: \/nonexistent\/dir: no such directory/);
  });
});
