// The /sys of `ocirun spec --rootless` (runc CVE-2023-25809 class). Without a
// network namespace of its own a container cannot mount sysfs, so the config
// binds the host's /sys recursively, with the cgroup mount on top of its
// /sys/fs/cgroup. "ro" makes only the bind's top mount read-only: a container
// root with CAP_SYS_ADMIN in its user namespace unmounts the cgroup mount and
// finds the host's cgroup hierarchies below, writable, where the user owns
// them (their delegated cgroups). runc 1.1.5's rootless spec leaves them so;
// ours asks for "rro" as well.
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/spec/default-spec.js';
import type { Mount } from '../../src/spec/types.js';
import { isRoot, runtimeLeavingNoContainer, uniqueId } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The host's cgroup directories the container will try to make a cgroup in: the root, and each v1 hierarchy's root. */
function cgroupDirs(): string[] {
  const dirs = readdirSync(CGROUP_ROOT, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.includes(','));
  return ['', ...dirs.map((d) => d.name)];
}

describe.skipIf(!isRoot)("ocirun spec --rootless's /sys", () => {
  it('keeps the host cgroups below it read-only for a container root that unmounts the cgroup mounts', () => {
    const name = `ocirun-sys-${uniqueId()}`;
    const dirs = cgroupDirs();
    const attempts = dirs.map((d) => `mkdir ${path.posix.join(CGROUP_ROOT, d, name)} 2>/dev/null && echo "WROTE ${d}"`).join('; ');
    const b = rt.bundle(['sh', '-c', `umount ${CGROUP_ROOT}/* 2>/dev/null; umount ${CGROUP_ROOT} || echo NO-UMOUNT; ${attempts}; echo done`], (c) => {
      // The user namespace maps the host's root, who owns the host's cgroups as a rootless user owns its delegated ones.
      const rootless = defaultSpec({ rootless: true, uid: 0, gid: 0 }) as { mounts: Mount[] };
      c.mounts = rootless.mounts as typeof c.mounts;
      c.linux.namespaces = c.linux.namespaces.filter((ns) => ns.type !== 'network' && ns.type !== 'cgroup');
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE');
    });
    try {
      const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('done\n');
    } finally {
      for (const d of dirs) {
        const made = path.join(CGROUP_ROOT, d, name);
        if (existsSync(made)) rmdirSync(made);
      }
    }
  });
});
