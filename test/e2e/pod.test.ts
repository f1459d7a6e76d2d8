// A pod built from ocirun bundles, as README "Pods" describes: an infra
// container running fixtures/pause.c, and members that join its network, IPC
// and UTS namespaces (one by /proc paths in config.json, one by --share), and
// in the second variant its pid namespace too.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, bundleWithOutbox, isRoot, makeBundle, processAlive, uniqueId, waitFor, type Bundle } from '../helpers/ocirun.js';

const rt = new Runtime();
let pause = '';

beforeAll(() => {
  pause = rt.scratchPath('pause');
  const built = spawnSync('gcc', ['-static', '-Os', '-s', '-o', pause, path.join(__dirname, '../../fixtures/pause.c')]);
  if (built.status !== 0) throw new Error(`building fixtures/pause.c: ${built.stderr?.toString() ?? built.error}`);
});
afterAll(() => rt.dispose());

const NS = ['net', 'ipc', 'uts', 'pid', 'mnt'];
const nsOf = (pid: number | 'self') => Object.fromEntries(NS.map((t) => [t, readlinkSync(`/proc/${pid}/ns/${t}`)]));

function startInfra(): { id: string; pid: number; bundle: Bundle } {
  const bundle = makeBundle({
    args: ['/pause'],
    mutate: (c) => {
      c.hostname = 'pod-7';
    },
  });
  copyFileSync(pause, path.join(bundle.rootfs, 'pause'));
  const id = uniqueId('infra');
  rt.ok(['run', '--detach', '--bundle', bundle.dir, id]);
  const pid = rt.state(id).pid;
  // An address on the pod's loopback, set from the host, for the members to see.
  const ip = spawnSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', 'addr', 'add', '192.0.2.7/32', 'dev', 'lo']);
  expect(ip.status, ip.stderr?.toString()).toBe(0);
  return { id, pid, bundle };
}

const MEMBER_REPORT =
  'for t in net ipc uts pid mnt; do echo "$t $(readlink /proc/self/ns/$t)"; done > /out/ns; hostname > /out/hostname; ip -o addr show lo > /out/addr; ' +
  'ls /sys/class/net > /out/links';

function member(script: string, opts: { joinByPath?: number; share?: string } = {}) {
  const box = bundleWithOutbox(rt, `${MEMBER_REPORT}; ${script}; echo ok > /out/ready; while [ ! -e /out/stop ]; do sleep 0.05; done`, (c) => {
    if (opts.joinByPath) {
      // runc's way: the infra's namespaces by path, and no hostname of its own.
      const paths: Record<string, string> = { network: 'net', ipc: 'ipc', uts: 'uts' };
      c.linux.namespaces = c.linux.namespaces.map((ns) => (paths[ns.type] ? { type: ns.type, path: `/proc/${opts.joinByPath}/ns/${paths[ns.type]}` } : ns));
      delete c.hostname;
    }
  });
  const id = uniqueId('member');
  rt.ok(['run', '--detach', '--bundle', box.bundle.dir, ...(opts.share ? ['--share', opts.share] : []), id]);
  waitFor(() => box.out('ready') !== '', `${id} to report`);
  return { ...box, id, pid: rt.state(id).pid };
}

function stopAndDelete(...containers: { id: string; bundle: Bundle; outbox?: string }[]): void {
  for (const c of containers) {
    if (c.outbox) writeFileSync(path.join(c.outbox, 'stop'), '');
    rt.run(['delete', '--force', c.id]);
    c.bundle.cleanup();
  }
}

describe.skipIf(!isRoot)('pods', () => {
  it("members share the infra's network, IPC and UTS namespaces; the infra cannot be deleted under them", () => {
    const infra = startInfra();
    const members: ReturnType<typeof member>[] = [];
    try {
      // IPC: a POSIX message queue made by one member is seen by the other.
      members.push(member('touch /dev/mqueue/pod-queue', { joinByPath: infra.pid }));
      members.push(member('cat /dev/mqueue/pod-queue > /out/queue', { share: `net,ipc,uts=${infra.id}` }));
      const infraNs = nsOf(infra.pid);
      const hostNs = nsOf('self');
      for (const m of members) {
        const seen = Object.fromEntries(
          m
            .out('ns')
            .trim()
            .split('\n')
            .map((l) => l.split(' ')),
        );
        for (const t of ['net', 'ipc', 'uts']) {
          expect(seen[t], `${m.id} ${t}`).toBe(infraNs[t]);
          expect(seen[t]).not.toBe(hostNs[t]);
        }
        // Their own pid and mount namespaces.
        for (const t of ['pid', 'mnt']) {
          expect(seen[t], `${m.id} ${t}`).not.toBe(infraNs[t]);
          expect(seen[t]).not.toBe(hostNs[t]);
        }
        expect(m.out('hostname')).toBe('pod-7\n');
        expect(m.out('addr')).toContain('192.0.2.7/32');
        expect(m.out('links').trim()).toBe('lo');
      }
      expect(members[1].out('queue')).toMatch(/^QSIZE:0/);

      // The infra: refused while members run, naming them.
      const refused = rt.run(['delete', infra.id]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `ocirun: ${infra.id}: cannot delete: containers ${members.map((m) => m.id).join(', ')} run in its namespaces (delete them first, or use --force)\n`,
      );
      expect(rt.state(infra.id).status).toBe('running');

      // A member goes; the others stay. Each member is marked in the infra's directory, and its delete removes the mark.
      const marks = () =>
        readdirSync(path.join(rt.root, infra.id))
          .filter((f) => f.startsWith('member.'))
          .sort();
      expect(marks()).toEqual(members.map((m) => `member.${m.id}`).sort());
      const gone = members.shift()!;
      stopAndDelete(gone);
      expect(marks()).not.toContain(`member.${gone.id}`);
      expect(rt.state(infra.id).status).toBe('running');
      expect(rt.state(members[0].id).status).toBe('running');
      expect(rt.run(['delete', infra.id]).stderr).toContain(`containers ${members[0].id} run in its namespaces`);

      // Forced: the infra goes, the member keeps running in the namespaces it holds.
      const forced = rt.run(['delete', '--force', infra.id]);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toContain(`warning: ${infra.id}: deleted while containers ${members[0].id} run in its namespaces`);
      expect(rt.containerIds()).not.toContain(infra.id);
      expect(rt.state(members[0].id).status).toBe('running');
    } finally {
      stopAndDelete(...members, infra);
    }
  });

  it("with the pid namespace shared, members see each other's processes and the pause process as pid 1", () => {
    const infra = startInfra();
    const members: ReturnType<typeof member>[] = [];
    try {
      const share = `net,ipc,uts,pid=${infra.id}`;
      members.push(member('echo $$ > /out/pid', { share }));
      members.push(member('echo $$ > /out/pid; cat /proc/1/cmdline > /out/pid1; ps -o pid,args > /out/ps', { share }));
      expect(members[1].out('pid1')).toBe('/pause\0');
      const ps = members[1].out('ps');
      const firstPid = members[0].out('pid').trim();
      expect(ps).toMatch(new RegExp(`^\\s*${firstPid}\\s+sh -c `, 'm')); // the other member's shell
      expect(ps).toMatch(/^\s*1\s+\/pause/m);
      for (const m of members) expect(readlinkSync(`/proc/${m.pid}/ns/pid`)).toBe(readlinkSync(`/proc/${infra.pid}/ns/pid`));

      stopAndDelete(members.shift()!);
      expect(rt.state(members[0].id).status).toBe('running');
      expect(rt.run(['delete', infra.id]).code).toBe(1);

      // The pid namespace dies with its init: forcing the infra's delete ends its members too.
      rt.ok(['delete', '--force', infra.id]);
      waitFor(() => !processAlive(members[0].pid), 'the member to die with the pid namespace');
      expect(rt.state(members[0].id).status).toBe('stopped');
    } finally {
      stopAndDelete(...members, infra);
    }
  });

  it('--share refuses what cannot be shared, leaving nothing behind', () => {
    const infra = startInfra();
    const b = makeBundle();
    try {
      const cases: [string, RegExp][] = [
        [`bogus=${infra.id}`, /--share bogus=\S+: unknown namespace type "bogus"/],
        ['net', /--share "net": expected TYPES=CONTAINER/],
        ['net=nonexistent', /nonexistent: container does not exist/],
        [`user=${infra.id}`, /--share \S+: it has no user namespace of its own to share/],
      ];
      for (const [share, message] of cases) {
        const id = uniqueId('member');
        const r = rt.run(['create', '--bundle', b.dir, '--share', share, id]);
        expect(r.code, share).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(rt.containerIds()).toEqual([infra.id]);
      }
      expect(existsSync(path.join(rt.root, infra.id, 'state.json'))).toBe(true);
    } finally {
      b.cleanup();
      stopAndDelete(infra);
    }
  });
});
