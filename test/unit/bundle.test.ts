import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bundle, buildRootfs, makeBundle } from '../../fixtures/bundle.mjs';

const hasRunc = spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;
const isRoot = process.geteuid?.() === 0;

const bundles: Bundle[] = [];

/** makeBundle with runc doing the spec step: the fixture is under test here, not ocirun. */
function runcBundle(opts: Parameters<typeof makeBundle>[0] = {}): Bundle {
  const bundle = makeBundle({ runtime: 'runc', ...opts });
  bundles.push(bundle);
  return bundle;
}

function runWithRunc(bundle: Bundle): { status: number | null; stdout: string; stderr: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-runc-root-'));
  try {
    const id = `bundle-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    return spawnSync('runc', ['--root', root, 'run', '--bundle', bundle.dir, id], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

afterEach(() => {
  for (const bundle of bundles.splice(0)) expect(bundle.cleanup().removed).toBe(true);
});

describe.skipIf(!hasRunc)('makeBundle (skipped: runc is not on PATH)', () => {
  it('builds a rootfs with sh and a non-interactive config', () => {
    const bundle = runcBundle({ args: ['sh', '-c', 'echo hi'] });
    expect(fs.existsSync(path.join(bundle.rootfs, 'bin/sh'))).toBe(true);
    expect(fs.readFileSync(path.join(bundle.rootfs, 'etc/group'), 'utf8')).toContain('extra:x:1001:user');
    const written = JSON.parse(fs.readFileSync(bundle.configPath, 'utf8'));
    expect(written).toEqual(bundle.config);
    expect(written.process.terminal).toBe(false);
    expect(written.process.args).toEqual(['sh', '-c', 'echo hi']);
    expect(written.process.consoleSize).toBeUndefined();
  });

  it('defaults to echo hello, applies mutate and rewrites config.json', () => {
    const bundle = runcBundle({ mutate: (config) => void (config.hostname = 'mutated') });
    expect(bundle.config.process.args).toEqual(['sh', '-c', 'echo hello']);
    expect(bundle.config.hostname).toBe('mutated');
    bundle.config.process.cwd = '/tmp';
    bundle.write();
    expect(JSON.parse(fs.readFileSync(bundle.configPath, 'utf8')).process.cwd).toBe('/tmp');
  });

  it('removes the bundle on cleanup', () => {
    const bundle = makeBundle({ runtime: 'runc' });
    expect(bundle.cleanup()).toEqual({ removed: true, unmounted: [], stillMounted: [] });
    expect(fs.existsSync(bundle.dir)).toBe(false);
  });

  it.skipIf(!isRoot)('makes a bundle runc can run (skipped: needs root)', () => {
    const result = runWithRunc(runcBundle());
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('hello\n');
    expect(result.status).toBe(0);
  });

  it('falls back to host commands and their libraries without busybox', () => {
    const bundle = runcBundle();
    fs.rmSync(bundle.rootfs, { recursive: true });
    fs.mkdirSync(bundle.rootfs);
    buildRootfs(bundle.rootfs, { busybox: null });
    expect(fs.existsSync(path.join(bundle.rootfs, 'bin/busybox'))).toBe(false);
    expect(fs.existsSync(path.join(bundle.rootfs, 'bin/sh'))).toBe(true);
    if (isRoot) expect(runWithRunc(bundle).stdout).toBe('hello\n');
  });

  it.skipIf(!isRoot)('makes a rootless bundle runc can run in a user namespace (skipped: needs root)', () => {
    const result = runWithRunc(runcBundle({ rootless: true, args: ['id', '-u'] }));
    expect(result.stdout).toBe('0\n');
    expect(result.status).toBe(0);
  });
});
