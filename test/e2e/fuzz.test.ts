// Generated bad input (fast-check): malformed and hostile config.json,
// process.json, command lines and state files. Every one must end in a clear
// error (an OciError: never an internal error, a stack trace or a hang) or in
// a correct container, and leave nothing behind.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCgroups } from '../../src/cgroups/index.js';
import { OciError } from '../../src/errors.js';
import { prepareSecurity } from '../../src/process/security.js';
import { loadBundle } from '../../src/spec/load.js';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { Runtime, hostMountsMentioning, isRoot, processAlive, processesMentioning, uniqueId, type Bundle, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => rt.dispose());

// ---- generating hostile configs ----

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values a careless or hostile writer puts where something else belongs. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    -(2 ** 63),
    1e308,
    -1e308,
    '',
    ' ',
    '-1',
    '0x10',
    '1e3',
    '..',
    '../../../../etc',
    '/proc/self/fd/3',
    '/proc/self/root',
    '/dev/sda',
    '/',
    '//',
    'a\u0000b',
    '%s%n%x',
    '\u202e',
    'x'.repeat(70_000),
    '__proto__',
    'constructor',
    [],
    {},
    [[]],
    { __proto__: { polluted: true } },
    'CAP_SYS_ADMIN',
    'CAP_NOPE',
    'RLIMIT_NOFILE',
    'SCMP_ACT_KILL',
    'bind',
    'rbind',
    'tmpfs',
    'ro',
    'shared',
    'user',
    'pid',
  ),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Paths (present in the default config or not) where values go. */
const TARGETS = [
  'ociVersion',
  'root',
  'root.path',
  'root.readonly',
  'mounts',
  'mounts.0',
  'mounts.0.destination',
  'mounts.0.type',
  'mounts.0.source',
  'mounts.0.options',
  'mounts.0.options.0',
  'mounts.99',
  'process',
  'process.args',
  'process.args.0',
  'process.env',
  'process.env.0',
  'process.cwd',
  'process.user',
  'process.user.uid',
  'process.user.gid',
  'process.user.umask',
  'process.user.additionalGids',
  'process.capabilities',
  'process.capabilities.bounding',
  'process.capabilities.bounding.0',
  'process.rlimits',
  'process.rlimits.0.type',
  'process.rlimits.0.hard',
  'process.terminal',
  'process.consoleSize',
  'process.oomScoreAdj',
  'process.noNewPrivileges',
  'process.scheduler',
  'process.ioPriority',
  'process.apparmorProfile',
  'process.selinuxLabel',
  'hostname',
  'domainname',
  'hooks',
  'hooks.createRuntime',
  'annotations',
  'linux',
  'linux.namespaces',
  'linux.namespaces.0',
  'linux.namespaces.0.type',
  'linux.namespaces.0.path',
  'linux.uidMappings',
  'linux.gidMappings',
  'linux.devices',
  'linux.devices.0',
  'linux.cgroupsPath',
  'linux.resources',
  'linux.resources.memory',
  'linux.resources.memory.limit',
  'linux.resources.cpu',
  'linux.resources.cpu.cpus',
  'linux.resources.cpu.shares',
  'linux.resources.pids.limit',
  'linux.resources.devices',
  'linux.resources.devices.0',
  'linux.resources.blockIO',
  'linux.resources.hugepageLimits',
  'linux.resources.unified',
  'linux.sysctl',
  'linux.seccomp',
  'linux.seccomp.defaultAction',
  'linux.seccomp.syscalls',
  'linux.seccomp.architectures',
  'linux.maskedPaths',
  'linux.maskedPaths.0',
  'linux.readonlyPaths',
  'linux.rootfsPropagation',
  'linux.mountLabel',
  'linux.personality',
  'linux.timeOffsets',
  'linux.intelRdt',
  'linux.memoryPolicy',
  'linux.netDevices',
];

type Mutation = { target: string; value: unknown } | { target: string; remove: true };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ target: fc.constantFrom(...TARGETS), value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ target: fc.constantFrom(...TARGETS), remove: fc.constant(true as const) }) },
);

/** Sets (or removes) a dotted path, making the objects on the way. */
function apply(config: Record<string, unknown>, m: Mutation): void {
  const keys = m.target.split('.');
  let node: Record<string, unknown> = config;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = /^\d+$/.test(key) ? {} : {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if ('remove' in m) delete node[last];
  else node[last] = m.value;
}

let base: BundleConfig;
let scratchBundle: string;
beforeAll(() => {
  const b = rt.bundle(['true']);
  base = structuredClone(b.config);
  scratchBundle = mkdtempSync(path.join(os.tmpdir(), 'ocirun-fuzz-'));
  mkdirSync(path.join(scratchBundle, 'rootfs'));
});
afterAll(() => rmSync(scratchBundle, { recursive: true, force: true }));

function mutated(mutations: Mutation[]): Record<string, unknown> {
  const config = structuredClone(base) as unknown as Record<string, unknown>;
  for (const m of mutations) apply(config, m);
  return config;
}

/**
 * Everything create does before it claims the id or makes anything: load and
 * validate, prepare seccomp and the rest, plan the cgroups. It may only fail
 * with an OciError whose lines are single lines.
 */
function checkBeforeCreate(text: string): 'accepted' | 'refused' {
  writeFileSync(path.join(scratchBundle, 'config.json'), text);
  try {
    const { config } = loadBundle(scratchBundle);
    prepareSecurity(config, config.process ?? ({} as never), { mode: 'create', id: 'fuzz', bundle: scratchBundle });
    planCgroups(config, 'fuzz');
    return 'accepted';
  } catch (err) {
    if (!(err instanceof OciError)) throw new Error(`not a clear error: ${(err as Error)?.stack ?? String(err)}\nconfig: ${text.slice(0, 2000)}`);
    for (const line of [err.message, ...err.details]) expect(line).not.toMatch(/\n/);
    return 'refused';
  }
}

describe('generated config.json, up to the point where create makes anything', () => {
  it('hostile values anywhere: a clear error or an accepted config, never an internal error', () => {
    const outcomes = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        outcomes[checkBeforeCreate(JSON.stringify(mutated(mutations)))]++;
      }),
      { numRuns: 300 },
    );
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(outcomes.accepted).toBeGreaterThan(0);
  });

  it('malformed text: truncated, spliced, or not JSON at all', () => {
    const whole = () => JSON.stringify(base, null, 2);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat().map((n) => whole().slice(0, n % whole().length)),
          fc.tuple(fc.nat(), fc.string({ maxLength: 20 })).map(([n, s]) => {
            const t = whole();
            const at = n % t.length;
            return t.slice(0, at) + s + t.slice(at);
          }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
          fc.constantFrom('', '\uFEFF{}', '{"ociVersion":"1.3.0","root":{"path":"rootfs"}}', 'null', '[]', '{'.repeat(10_000)),
        ),
        (text) => {
          checkBeforeCreate(text);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---- through the command line ----

interface CliResult {
  code: number;
  stderr: string;
  timedOut: boolean;
}

/**
 * ocirun with JSON logs on stderr: every error line carries its code,
 * 'internal' for an unexpected one. stderr goes to a file: a created
 * container inherits it and would hold a pipe open.
 */
function cli(args: string[], cwd?: string): CliResult {
  const errFile = rt.scratchPath('fuzz.err');
  const fd = openSync(errFile, 'w');
  try {
    const r = spawnSync(OCIRUN_BIN, ['--root', rt.root, '--log-format', 'json', ...args], { cwd, stdio: ['ignore', 'ignore', fd], timeout: 20_000 });
    return { code: r.status ?? -1, stderr: readFileSync(errFile, 'utf8'), timedOut: r.error !== undefined || r.signal !== null };
  } finally {
    closeSync(fd);
  }
}

/** A failure must be a clear one: JSON error lines with a known code and no stack trace. */
function expectClearOutcome(r: CliResult, what: string): void {
  expect(r.timedOut, `${what}: hung`).toBe(false);
  if (r.code === 0) return;
  expect(r.stderr, what).not.toMatch(/\n\s+at /);
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  expect(lines.length, `${what}: no error message`).toBeGreaterThan(0);
  for (const line of lines) {
    let entry: { level?: string; code?: string; msg?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      // The container init may write its last words to the container's stderr (ours) as text.
      expect(line, what).toMatch(/^ocirun: container init: /);
      continue;
    }
    expect(entry.code, `${what}: ${entry.msg}`).not.toBe('internal');
    expect(entry.msg, what).not.toMatch(/Cannot read properties|is not a function|is not iterable|Maximum call stack/);
  }
}

const containerIdArb = fc.oneof(
  fc.constantFrom('..', '.', '../x', 'a/b', '', '-x', '--', 'x'.repeat(2000), 'ok-id', ' ', '*', '$(id)', '\u202e'),
  fc.string({ maxLength: 12 }),
);
const argArb = fc.oneof(
  containerIdArb,
  fc.constantFrom(
    '-a',
    '--all',
    '-f',
    '--force',
    '-d',
    '--detach',
    '--bundle',
    '-b',
    '/nonexistent',
    '--pid-file',
    'pid',
    '--preserve-fds',
    '-1',
    '99999999999',
    '--console-socket',
    '/dev/null',
    '--root',
    '--log',
    '--log-format',
    'xml',
    '--process',
    '/etc/hostname',
    '--cwd',
    '--env',
    '=',
    '--user',
    '0:0:0',
    '--memory',
    '1q',
    '--cpu-quota',
    'NaN',
    '--interval',
    '0s',
    '--format',
    'yaml',
    'KILL',
    'SIGNOPE',
    '65',
    '-9',
    '--help',
    '-v',
    '--',
    '-',
  ),
  fc.string({ maxLength: 10 }),
);
// Not `spec`: it writes config.json, and a generated --bundle could name a real directory.
const COMMANDS = ['create', 'start', 'state', 'kill', 'delete', 'run', 'exec', 'ps', 'pause', 'resume', 'update', 'events', 'list', 'features'];

describe.skipIf(!isRoot)('generated command lines', () => {
  it('random commands, flags and ids: a clear error or success, nothing left', () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'ocirun-fuzz-cwd-'));
    try {
      fc.assert(
        // An argument cannot hold a NUL byte (execve(2) takes C strings).
        fc.property(
          fc.constantFrom(...COMMANDS),
          fc.array(
            argArb.filter((a) => !a.includes('\u0000')),
            { maxLength: 5 },
          ),
          (command, args) => {
            // `events` without --stats streams until killed: give it --stats.
            const extra = command === 'events' ? ['--stats'] : [];
            const r = cli([command, ...extra, ...args], cwd);
            expectClearOutcome(r, `${command} ${args.join(' ')}`);
            expect(rt.containerIds()).toEqual([]);
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot)('generated configs, created for real', () => {
  it('create with hostile values: a clear error, or a container that delete removes without a trace', () => {
    const b = rt.bundle(['true']);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 2 }), (mutations) => {
        const config = mutated(mutations) as unknown as BundleConfig;
        b.write(config);
        const id = uniqueId('fuzz');
        const r = cli(['create', '--bundle', b.dir, id]);
        expectClearOutcome(r, `create with ${JSON.stringify(mutations).slice(0, 500)}`);
        if (r.code === 0) expect(cli(['delete', '--force', id]).code).toBe(0);
        expect(rt.containerIds(), `left by create (exit ${r.code}: ${r.stderr}) with ${JSON.stringify(mutations).slice(0, 500)}`).toEqual([]);
        expect(processesMentioning(id)).toEqual([]);
        expect(hostMountsMentioning(b.dir)).toEqual([]);
      }),
      { numRuns: 12 },
    );
  });

  it('exec --process with a hostile process.json: a clear error or the process runs', () => {
    const b = rt.bundle(['sleep', '1000']);
    const id = uniqueId('fuzz-exec');
    rt.ok(['run', '-d', '--bundle', b.dir, id]);
    const init = rt.state(id).pid;
    const file = rt.scratchPath('process.json');
    const processBase = { args: ['true'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } };
    const processTargets = [
      'args',
      'args.0',
      'cwd',
      'env',
      'env.0',
      'user',
      'user.uid',
      'user.additionalGids',
      'capabilities',
      'capabilities.bounding',
      'rlimits',
      'terminal',
      'consoleSize',
      'noNewPrivileges',
      'apparmorProfile',
      'oomScoreAdj',
      'scheduler',
      'ioPriority',
      'selinuxLabel',
    ];
    fc.assert(
      fc.property(fc.array(fc.record({ target: fc.constantFrom(...processTargets), value: hostileValue }), { minLength: 1, maxLength: 3 }), (mutations) => {
        const spec = structuredClone(processBase) as Record<string, unknown>;
        for (const m of mutations) apply(spec, m);
        writeFileSync(file, JSON.stringify(spec));
        expectClearOutcome(cli(['exec', '--process', file, id]), `exec ${JSON.stringify(spec).slice(0, 500)}`);
      }),
      { numRuns: 12 },
    );
    expect(processAlive(init)).toBe(true);
    rt.ok(['delete', '-f', id]);
    expect(rt.containerIds()).toEqual([]);
  });
});

describe.skipIf(!isRoot)('generated damage to state files', () => {
  it('state reads a damaged state.json as a clear error; delete --force still removes the container', () => {
    const b: Bundle = rt.bundle(['sleep', '1000']);
    const id = uniqueId('fuzz-state');
    rt.ok(['create', '--bundle', b.dir, id]);
    const init = rt.state(id).pid;
    const statePath = path.join(rt.root, id, 'state.json');
    const whole = JSON.stringify(JSON.parse(readFileSync(statePath, 'utf8')));
    const stateKeys = Object.keys(JSON.parse(whole));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat().map((n) => whole.slice(0, n % whole.length)),
          fc
            .record({ key: fc.constantFrom(...stateKeys), value: hostileValue })
            .map(({ key, value }) => JSON.stringify({ ...JSON.parse(whole), [key]: value })),
          fc.string(),
        ),
        (text) => {
          writeFileSync(statePath, text);
          expectClearOutcome(cli(['state', id]), `state of ${text.slice(0, 300)}`);
        },
      ),
      { numRuns: 10 },
    );
    writeFileSync(statePath, whole.slice(0, whole.length / 2));
    expect(cli(['delete', '--force', id]).code).toBe(0);
    expect(rt.containerIds()).toEqual([]);
    expect(processAlive(init)).toBe(false);
  });
});
