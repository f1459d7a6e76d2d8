// Every failure reaches the user as an OciError with a code from ErrorCode,
// and context added on the way up keeps what it wraps (and so its errno).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { OciError, asOciError, errnoOf, wrap, type ErrorCode } from '../../src/errors.js';
import { configureLog, reportError } from '../../src/log.js';
import update from '../../src/cli/update.js';
import { updateContainer } from '../../src/lifecycle/resources.js';
import { resolveExecutable } from '../../src/process/exec-path.js';
import { openJoins, type NamespacePlan } from '../../src/linux/namespaces.js';
import { O, SysError, open } from '../../src/sys/libc.js';
import { Store } from '../../src/state/store.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'ocirun-errors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const missing = path.join(scratch, 'missing');

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e instanceof Error && e.cause !== undefined; e = e.cause) chain.push(e.cause);
  return chain;
}

function expectOci(err: unknown, code: ErrorCode, message: string | RegExp): OciError {
  expect(err).toBeInstanceOf(OciError);
  const e = err as OciError;
  expect(e.code).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else expect(e.message).toMatch(message);
  return e;
}

describe('an OciError from each layer', () => {
  test('cli: an unreadable --resources file is a usage error caused by the failed read', () => {
    const err = caught(() => update({ root: scratch, logFormat: 'text', debug: false, systemdCgroup: false }, ['c1'], { resources: missing }));
    expectOci(err, 'usage', `--resources: cannot read ${missing}: ENOENT`);
    expect(errnoOf(err)).toBe('ENOENT');
    expect((causes(err)[0] as NodeJS.ErrnoException).syscall).toBe('open');
  });

  test("lifecycle: a container that does not exist, in runc's words", () => {
    const err = caught(() => updateContainer(new Store(scratch), 'c1', {}));
    expectOci(err, 'container-not-found', 'c1: container does not exist');
    expect(causes(err)).toEqual([]);
  });

  test("process: an executable not found, in runc's words", () => {
    const err = caught(() => resolveExecutable('no-such-program', [`PATH=${missing}`], '/'));
    expectOci(err, 'container-init', 'exec: "no-such-program": executable file not found in $PATH');
  });

  test('linux: a namespace path that cannot be opened is a config error caused by the open', () => {
    const plan = { joins: [{ type: 'network', path: missing, fd: -1 }] } as unknown as NamespacePlan;
    const err = caught(() => openJoins(plan));
    expectOci(err, 'invalid-config', `config.json: /linux/namespaces: network namespace path ${missing} cannot be opened: ENOENT`);
    expect(errnoOf(err)).toBe('ENOENT');
  });

  test('sys: a failed system call, wrapped twice, keeps its errno and the whole chain', () => {
    const sysErr = caught(() => open(missing, O.RDONLY));
    expect(sysErr).toBeInstanceOf(SysError);
    expectOci(asOciError(sysErr), 'system', /^open .*: ENOENT \(No such file or directory\)$/);
    const inner = wrap(sysErr, 'device /dev/x');
    const outer = wrap(inner, 'mount /dev', { code: 'container-init' });
    expectOci(inner, 'system', /^device \/dev\/x: open .*: ENOENT/);
    expectOci(outer, 'container-init', /^mount \/dev: device \/dev\/x: open /);
    expect(causes(outer)).toEqual([inner, sysErr]);
    expect(errnoOf(outer)).toBe('ENOENT');
    expect(wrap(sysErr, 'writing x', { errnoOnly: true, hint: ' (check y)' }).message).toBe('writing x: ENOENT (check y)');
  });

  test('wrap keeps the code and detail lines of an OciError it wraps', () => {
    const err = wrap(new OciError('invalid-config', 'bad', ['field a', 'field b']), '--process p.json');
    expectOci(err, 'invalid-config', '--process p.json: bad');
    expect(err.details).toEqual(['field a', 'field b']);
  });

  test('anything else is an internal error', () => {
    expectOci(asOciError(new TypeError('x is not a function')), 'internal', 'x is not a function');
    expectOci(asOciError('a string'), 'internal', 'a string');
  });
});

describe('the log', () => {
  test('names a code from ErrorCode for every failure', () => {
    const logFile = path.join(scratch, 'log.json');
    configureLog({ file: logFile, format: 'json', debug: false });
    try {
      reportError(caught(() => open(missing, O.RDONLY)));
      reportError(new RangeError('bug'));
      reportError(
        wrap(
          caught(() => open(missing, O.RDONLY)),
          'context',
          { code: 'usage' },
        ),
      );
    } finally {
      configureLog({ format: 'text', debug: false });
    }
    const entries = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string; msg: string });
    expect(entries.map((e) => e.code)).toEqual(['system', 'internal', 'usage']);
    expect(entries[2].msg).toMatch(/^context: open .*: ENOENT/);
  });
});
