// ocirun run by an unprivileged user, with the config `ocirun spec --rootless`
// writes for that user: a user namespace mapping only their own ids, and no
// cgroups. The user is a bare uid (no passwd entry), switched to with setpriv.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { isRoot, makeBundle, uniqueId, type Bundle, type BundleConfig } from '../helpers/ocirun.js';

const UID = 52763;
const GID = 52763;
const asUser = ['setpriv', `--reuid=${UID}`, `--regid=${GID}`, '--clear-groups', '--'];
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' };

/** The host lets an unprivileged user make a user namespace (user_namespaces(7)). */
const kernelAllows = isRoot && spawnSync(asUser[0], [...asUser.slice(1), 'unshare', '--user', 'true']).status === 0;

const home = isRoot ? mkdtempSync(path.join(os.tmpdir(), 'ocirun-rootless-')) : '';
if (isRoot) {
  chmodSync(home, 0o755);
  chownSync(home, UID, GID);
}
afterAll(() => {
  if (home) {
    const root = path.join(home, 'root');
    for (const id of existsSync(root) ? readdirSync(root) : []) ocirunAsUser(['delete', '--force', id]);
    rmSync(home, { recursive: true, force: true });
  }
});

function ocirunAsUser(args: string[]) {
  const r = spawnSync(asUser[0], [...asUser.slice(1), OCIRUN_BIN, '--root', path.join(home, 'root'), ...args], { env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A bundle whose config.json is what `ocirun spec --rootless` writes for the user. */
function rootlessBundle(script: string, mutate?: (c: BundleConfig) => void): Bundle {
  const specDir = mkdtempSync(path.join(home, 'spec-'));
  chownSync(specDir, UID, GID);
  const spec = ocirunAsUser(['spec', '--rootless', '--bundle', specDir]);
  expect(spec.code, spec.stderr).toBe(0);
  const config = JSON.parse(readFileSync(path.join(specDir, 'config.json'), 'utf8')) as BundleConfig;
  const bundle = makeBundle({ args: ['sh', '-c', script] });
  bundle.write({ ...config, process: { ...config.process, terminal: false, args: ['sh', '-c', script] } });
  mutate?.(bundle.config);
  bundle.write();
  return bundle;
}

describe.skipIf(!kernelAllows)('rootless', () => {
  it('runs as an unprivileged user: root inside maps to them, setgroups is denied, no cgroup is made', () => {
    const b = rootlessBundle('cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; touch /tmp/made-by-root; readlink /proc/self/ns/user');
    const id = uniqueId('rootless');
    try {
      expect(b.config.linux.uidMappings).toEqual([{ containerID: 0, hostID: UID, size: 1 }]);
      expect(b.config.linux.gidMappings).toEqual([{ containerID: 0, hostID: GID, size: 1 }]);
      expect(b.config.linux.namespaces.map((ns) => ns.type)).toContain('user');
      expect(b.config.linux.resources).toBeUndefined();
      b.config.root.readonly = false;
      b.write();

      const r = ocirunAsUser(['run', '--bundle', b.dir, id]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' '));
      expect(lines.slice(0, 4)).toEqual([`0 ${UID} 1`, `0 ${GID} 1`, 'deny', '0']);
      expect(lines[4]).not.toBe(`${spawnSync('readlink', ['/proc/self/ns/user'], { encoding: 'utf8' }).stdout.trim()}`);
      const made = statSync(path.join(b.rootfs, 'tmp/made-by-root'));
      expect([made.uid, made.gid]).toEqual([UID, GID]);
      expect(existsSync(path.join(home, 'root', id))).toBe(false); // run deleted it
      for (const controller of ['pids', 'memory', 'cpu', 'unified']) expect(existsSync(`/sys/fs/cgroup/${controller}/${id}`)).toBe(false);
    } finally {
      b.cleanup();
    }
  });

  it("refuses limits it cannot apply without cgroups, and ids that are not the user's own, with nothing left", () => {
    const cases: [(c: BundleConfig) => void, RegExp][] = [
      [
        (c) => (c.linux.resources = { pids: { limit: 10 } }),
        /^ocirun: config\.json: \/linux\/resources\/pids: limits need cgroups, which ocirun does not create when not run as root/,
      ],
      [
        (c) =>
          (c.linux.uidMappings = [
            { containerID: 0, hostID: UID, size: 1 },
            { containerID: 1, hostID: 100000, size: 10 },
          ]),
        /^ocirun: linux\.uidMappings .*: writing uid_map of the user namespace: EPERM; without root, only your own uid \(52763\) can be mapped/,
      ],
    ];
    for (const [mutate, message] of cases) {
      const b = rootlessBundle('true', mutate);
      const id = uniqueId('rootless');
      try {
        const r = ocirunAsUser(['run', '--bundle', b.dir, id]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(existsSync(path.join(home, 'root', id))).toBe(false);
      } finally {
        b.cleanup();
      }
    }
  });

  it('says so, and leaves nothing, where the host forbids the user more user namespaces', () => {
    const b = rootlessBundle('true');
    const id = uniqueId('rootless');
    try {
      // A user namespace whose user.max_user_namespaces is 0, entered as the user (test/helpers/no-userns.py).
      const r = spawnSync(
        'python3',
        [path.join(__dirname, '../helpers/no-userns.py'), String(UID), OCIRUN_BIN, '--root', path.join(home, 'root'), 'run', '--bundle', b.dir, id],
        {
          env,
          encoding: 'utf8',
        },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        'ocirun: creating a user namespace as an unprivileged user: clone3: ENOSPC (No space left on device): this host forbids unprivileged user namespaces ' +
          '(see the sysctls user.max_user_namespaces and kernel.unprivileged_userns_clone, and any LSM policy restricting them)\n',
      );
      expect(existsSync(path.join(home, 'root', id))).toBe(false);
    } finally {
      b.cleanup();
    }
  });
});
