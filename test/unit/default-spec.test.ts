import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SPEC_VERSION, defaultSpec } from '../../src/spec/default-spec.js';

const hasRunc = spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;

/** What `runc spec [--rootless]` writes, with ociVersion swapped in place (key order kept). */
function runcSpec(rootless: boolean): Record<string, unknown> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocirun-runc-spec-'));
  try {
    const args = ['spec', '--bundle', dir, ...(rootless ? ['--rootless'] : [])];
    const result = spawnSync('runc', args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`runc ${args.join(' ')} failed: ${result.stderr}`);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    config.ociVersion = SPEC_VERSION;
    return config;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('defaultSpec', () => {
  it('declares OCI runtime-spec 1.3.0', () => {
    expect(SPEC_VERSION).toBe('1.3.0');
    expect(defaultSpec({ rootless: false }).ociVersion).toBe('1.3.0');
  });

  it('runs an interactive sh in its own namespaces', () => {
    const spec = defaultSpec({ rootless: false }) as any;
    expect(spec.process.args).toEqual(['sh']);
    expect(spec.process.terminal).toBe(true);
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    const namespaces = spec.linux.namespaces.map((ns: { type: string }) => ns.type);
    expect(namespaces).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux.readonlyPaths).toContain('/proc/sys');
  });

  it('maps root to the given ids when rootless, without network namespace or resources', () => {
    const spec = defaultSpec({ rootless: true, uid: 1234, gid: 5678 }) as any;
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: 1234, size: 1 }]);
    expect(spec.linux.gidMappings).toEqual([{ containerID: 0, hostID: 5678, size: 1 }]);
    const namespaces = spec.linux.namespaces.map((ns: { type: string }) => ns.type);
    expect(namespaces).toContain('user');
    expect(namespaces).not.toContain('network');
    expect(spec.linux.resources).toBeUndefined();
  });

  it('returns a fresh document on every call', () => {
    const first = defaultSpec({ rootless: false }) as any;
    first.process.capabilities.bounding.push('CAP_SYS_ADMIN');
    first.mounts.pop();
    expect(defaultSpec({ rootless: false })).toEqual(defaultSpec({ rootless: false }));
    expect((defaultSpec({ rootless: false }) as any).process.capabilities.bounding).not.toContain('CAP_SYS_ADMIN');
  });

  describe.skipIf(!hasRunc)('matches `runc spec` (skipped: runc is not on PATH)', () => {
    it('rootful', () => {
      const ours = defaultSpec({ rootless: false });
      const runcs = runcSpec(false);
      expect(ours).toEqual(runcs);
      expect(JSON.stringify(ours)).toBe(JSON.stringify(runcs)); // same key order too
    });

    it("rootless, with the caller's uid and gid, but for /sys, which ours makes read-only recursively", () => {
      const ours = defaultSpec({ rootless: true, uid: process.geteuid!(), gid: process.getegid!() }) as any;
      const runcs = runcSpec(true) as any;
      const sys = (spec: any) => spec.mounts.find((m: { destination: string }) => m.destination === '/sys');
      expect(sys(ours).options).toEqual([...sys(runcs).options, 'rro']);
      sys(ours).options.pop();
      expect(ours).toEqual(runcs);
      expect(JSON.stringify(ours)).toBe(JSON.stringify(runcs));
    });
  });
});
