// A container that joins another container's mount namespace (--share mnt,
// or a `mount` path whose root is not root.path) takes that namespace as it
// is: ocirun mounts nothing there. What its config asks to hide or protect
// (linux.maskedPaths, linux.readonlyPaths, root.readonly) must then already
// hold there; a create that would silently go without it is refused.
import { describe, expect, it } from 'vitest';
import { runtimeLeavingNoContainer, isRoot, processesMentioning, uniqueId, type BundleConfig } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

describe.skipIf(!isRoot)('a mount namespace joined as it is', () => {
  it('is refused, naming the field, where a masked or read-only path of the config would not hold', () => {
    // The infra: the fixture's masked and read-only paths, a writable root.
    const infra = rt.bundle(['sleep', '600'], (c) => {
      c.root.readonly = false;
    });
    const infraId = uniqueId('infra');
    rt.ok(['run', '--detach', '--bundle', infra.dir, infraId]);
    try {
      const member = (mutate: (c: BundleConfig) => void, script = 'true') =>
        rt.bundle(['sh', '-c', script], (c) => {
          c.root.readonly = false;
          mutate(c);
        });
      const share = ['--share', `mnt=${infraId}`];
      const refused = (mutate: (c: BundleConfig) => void) => {
        // As refusedCreate checks, with --share: status 1, one line, nothing left.
        const b = member(mutate);
        const id = uniqueId('member');
        const r = rt.run(['create', '--bundle', b.dir, ...share, id]);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(rt.containerIds()).not.toContain(id);
        expect(processesMentioning(id)).toEqual([]);
        return r.stderr;
      };

      expect(refused((c) => c.linux.maskedPaths!.push('/etc/passwd'))).toMatch(/linux\.maskedPaths: \/etc\/passwd is not masked in the joined mount namespace/);
      expect(refused((c) => c.linux.readonlyPaths!.push('/tmp'))).toMatch(/linux\.readonlyPaths: \/tmp is not read-only in the joined mount namespace/);
      expect(refused((c) => (c.root.readonly = true))).toMatch(/root\.readonly: \/ is not on a read-only mount in the joined mount namespace/);

      // The same masks and read-only paths as the infra's: they hold, and the member runs with them.
      const ok = member(() => {}, 'wc -c < /proc/keys; awk \'$5 == "/proc/sys" { print $6 }\' /proc/1/mountinfo | cut -d, -f1');
      const r = rt.run(['run', '--bundle', ok.dir, ...share, uniqueId('member')]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('0\nro\n');
    } finally {
      rt.ok(['delete', '--force', infraId]);
    }
  });
});
