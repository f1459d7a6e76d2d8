// The credentials a container's processes start with are exactly those asked
// for, whatever the runtime itself holds: no uid or gid that the kernel reads
// as "leave unchanged" (runc refuses ids past 2^31-1; containerd
// CVE-2024-40635 ran such a user as root), no inheritable capability the
// config did not ask for (runc CVE-2022-29162, Moby CVE-2022-24769), no
// supplementary group of the runtime's (containerd CVE-2023-25173).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { isRoot, runtimeLeavingNoContainer, uniqueId } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

/** What STATUS shows for uid/gid 1000 with no groups (the kernel's list ends with a space) and empty inheritable and ambient sets. */
const ASKED = 'Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nGroups:\t \nCapInh:\t0000000000000000\nCapAmb:\t0000000000000000\n';

const STATUS = 'grep -E "^(Uid|Gid|Groups|CapInh|CapAmb):" /proc/self/status';

/** A running container whose process runs as uid/gid 1000, for exec. */
function sleeper(): string {
  const b = rt.bundle(['sleep', '1000'], (c) => (c.process.user = { uid: 1000, gid: 1000 }));
  const id = uniqueId();
  rt.ok(['run', '-d', '--bundle', b.dir, id]);
  return id;
}

/** ocirun run under setpriv, which gives it supplementary groups and inheritable and ambient capabilities. */
function ocirunWithExtraCredentials(args: string[]): string {
  const r = spawnSync(
    'setpriv',
    ['--groups', '4,27', '--inh-caps', '+sys_admin,+net_admin', '--ambient-caps', '+sys_admin', OCIRUN_BIN, '--root', rt.root, ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe.skipIf(!isRoot)('uid and gid 4294967295, (uid_t)-1: "unchanged" to setresuid(2)', () => {
  it.each([
    ['uid', { uid: 4294967295, gid: 1000 }],
    ['gid', { uid: 1000, gid: 4294967295 }],
    ['additionalGids/0', { uid: 1000, gid: 1000, additionalGids: [4294967295] }],
  ])('config.json: process.user.%s is refused; nothing runs, nothing is left', (field, user) => {
    const b = rt.bundle(['id'], (c) => (c.process.user = user));
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`ocirun: config.json: /process/user/${field}: must be at most 4294967294\n`);
    expect(r.code).toBe(1);
    expect(rt.containerIds()).toEqual([]);
  });

  it('exec: --user and --additional-gids past 4294967294 are refused (4294967296 would wrap to root), and so is process.json', () => {
    const id = sleeper();
    const processFile = rt.scratchPath('process.json');
    writeFileSync(processFile, JSON.stringify({ args: ['id'], cwd: '/', user: { uid: 4294967295, gid: 0 } }));
    const runs = [
      ['--user', '4294967295'],
      ['--user', '1000:4294967296'],
      ['--additional-gids', '4294967295'],
    ].map((flags) => rt.run(['exec', ...flags, id, 'id']));
    const fromFile = rt.run(['exec', '--process', processFile, id]);
    rt.ok(['delete', '-f', id]);
    for (const r of runs) {
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^ocirun: --(user|additional-gids): 429496729[56] is above 4294967294, the highest uid or gid .*\n$/);
      expect(r.code).not.toBe(0);
    }
    expect(fromFile.stdout).toBe('');
    expect(fromFile.stderr).toBe(`ocirun: ${processFile}: /user/uid: must be at most 4294967294\n`);
  });
});

describe.skipIf(!isRoot)("the runtime's own groups and inheritable capabilities stay out of the container", () => {
  it('the init starts with the groups and inheritable and ambient sets of its config only (empty here)', () => {
    const b = rt.bundle(['sh', '-c', STATUS], (c) => (c.process.user = { uid: 1000, gid: 1000 }));
    expect(ocirunWithExtraCredentials(['run', '--bundle', b.dir, uniqueId()])).toBe(ASKED);
  });

  it('and so does a process started with exec, --cap included', () => {
    const id = sleeper();
    const plain = ocirunWithExtraCredentials(['exec', id, 'sh', '-c', STATUS]);
    const withCap = ocirunWithExtraCredentials(['exec', '--cap', 'CAP_SYS_ADMIN', id, 'sh', '-c', STATUS]);
    rt.ok(['delete', '-f', id]);
    for (const seen of [plain, withCap]) {
      expect(seen).toBe(ASKED);
    }
  });
});
