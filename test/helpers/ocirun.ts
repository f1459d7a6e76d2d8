// Driving bin/ocirun from tests. Output goes through files, never pipes: a
// detached container inherits the caller's stdio and would keep a pipe open,
// so a test waiting for EOF would hang.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { OCIRUN_BIN, makeBundle, type Bundle, type BundleConfig } from '../../fixtures/bundle.mjs';

export const isRoot = process.getuid?.() === 0;

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export class Runtime {
  readonly root: string;
  private readonly scratch: string;
  private readonly bundles: Bundle[] = [];

  constructor() {
    this.scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-test-'));
    this.root = path.join(this.scratch, 'root');
  }

  /** Runs `ocirun --root <root> ...args` with stdio in files; `stdin` is a file path or 'ignore'. */
  run(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; globals?: string[] } = {}): Result {
    const out = path.join(this.scratch, `out-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const err = `${out}.err`;
    const fds = [opts.stdin ? openSync(opts.stdin, 'r') : 'ignore', openSync(out, 'w'), openSync(err, 'w')] as const;
    try {
      const r = spawnSync(OCIRUN_BIN, [...(opts.globals ?? ['--root', this.root]), ...args], {
        stdio: [...fds],
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 30_000,
      });
      if (r.error) throw r.error;
      return {
        code: r.status ?? 128 + (r.signal ? (os.constants.signals[r.signal] ?? 0) : 0),
        stdout: readFileSync(out, 'utf8'),
        stderr: readFileSync(err, 'utf8'),
      };
    } finally {
      for (const fd of fds) if (typeof fd === 'number') closeSync(fd);
      rmSync(out, { force: true });
      rmSync(err, { force: true });
    }
  }

  /** Like run, but fails the test on a non-zero exit. */
  ok(args: string[], opts?: Parameters<Runtime['run']>[1]): Result {
    const r = this.run(args, opts);
    if (r.code !== 0) throw new Error(`ocirun ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  }

  state(id: string): { status: string; pid: number; [key: string]: unknown } {
    return JSON.parse(this.ok(['state', id]).stdout);
  }

  containerIds(): string[] {
    try {
      return readdirSync(this.root);
    } catch {
      return [];
    }
  }

  /** A bundle running `args`, removed by dispose(). */
  bundle(args: string[], mutate?: (c: BundleConfig) => void): Bundle {
    return this.track(makeBundle({ args, mutate }));
  }

  /** Has dispose() remove this bundle. */
  track(bundle: Bundle): Bundle {
    this.bundles.push(bundle);
    return bundle;
  }

  /** Force-deletes whatever a failed test left, removes the bundles, then the scratch dir. */
  dispose(): void {
    for (const id of this.containerIds()) this.run(['delete', '--force', id]);
    for (const b of this.bundles) b.cleanup();
    rmSync(this.scratch, { recursive: true, force: true });
  }

  scratchPath(name: string): string {
    return path.join(this.scratch, name);
  }
}

/** A Runtime for one test file, disposed after its tests, which must leave no container behind. */
export function runtimeLeavingNoContainer(): Runtime {
  const rt = new Runtime();
  afterAll(() => {
    try {
      expect(rt.containerIds()).toEqual([]);
    } finally {
      rt.dispose();
    }
  });
  return rt;
}

let counter = 0;
export function uniqueId(prefix = 'c'): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/**
 * Runs a one-shot container in the foreground and returns what it printed.
 * The bundle is removed afterwards.
 */
export function runInContainer(rt: Runtime, script: string, mutate?: (c: BundleConfig) => void): Result {
  const bundle = makeBundle({ args: ['sh', '-c', script], mutate });
  try {
    return rt.run(['run', '--bundle', bundle.dir, uniqueId()]);
  } finally {
    bundle.cleanup();
  }
}

/** Lines of /proc/self/mountinfo that mention `text` (e.g. a bundle path). */
export function hostMountsMentioning(text: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(text));
}

/** Alive and not a zombie (a zombie is dead; PID 1 of some hosts never reaps orphans). */
export function processAlive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Live processes whose command line mentions `text` (a forked init carries the container id). */
export function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(processAlive);
}

/** One line of /proc/<pid>/mountinfo (proc(5)). */
export interface MountInfo {
  root: string;
  mountPoint: string;
  options: string[];
  /** Optional fields: shared:N, master:N, ... */
  tags: string[];
  fstype: string;
  source: string;
  superOptions: string[];
}

export function parseMountinfo(text: string): MountInfo[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const fields = line.split(' ');
      const sep = fields.indexOf('-');
      return {
        root: fields[3],
        mountPoint: fields[4],
        options: fields[5].split(','),
        tags: fields.slice(6, sep),
        fstype: fields[sep + 1],
        source: fields[sep + 2],
        superOptions: fields[sep + 3].split(','),
      };
    });
}

export function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): void {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    sleep(20);
  }
}

/**
 * A bundle whose process can write markers into a host directory mounted at
 * /out: how tests watch a detached container. `out(name)` reads one ('' if absent).
 */
export function bundleWithOutbox(
  rt: Runtime,
  script: string,
  mutate?: (c: BundleConfig) => void,
): { bundle: Bundle; outbox: string; out: (name: string) => string } {
  const outbox = rt.scratchPath(`outbox-${uniqueId()}`);
  mkdirSync(outbox);
  const bundle = makeBundle({
    args: ['sh', '-c', script],
    mutate: (c) => {
      c.mounts.push({ destination: '/out', type: 'bind', source: outbox, options: ['rbind', 'rw'] });
      mutate?.(c);
    },
  });
  const out = (name: string) => {
    try {
      return readFileSync(path.join(outbox, name), 'utf8');
    } catch {
      return '';
    }
  };
  return { bundle, outbox, out };
}

/**
 * A create of `bundle` that must be refused: exit status 1, one line on
 * stderr, and no state or process left. Returns what it printed.
 */
export function refusedCreate(rt: Runtime, bundle: Bundle, prefix = 'bad'): string {
  const id = uniqueId(prefix);
  const r = rt.run(['create', '--bundle', bundle.dir, id]);
  const wrong = [
    r.code !== 1 && `exit status ${r.code}`,
    r.stderr.trim().split('\n').length !== 1 && 'not one line on stderr',
    rt.containerIds().includes(id) && 'state left behind',
    processesMentioning(id).length > 0 && 'process left behind',
  ].filter(Boolean);
  if (wrong.length > 0) throw new Error(`create ${id}: ${wrong.join(', ')}: ${r.stderr}`);
  return r.stderr;
}

export { makeBundle, type Bundle, type BundleConfig };
