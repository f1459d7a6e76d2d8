// linux.sysctl never reaches the host. A sysctl is written in the namespace
// that isolates it (net.* the network namespace, kernel.shm*/msg*/sem and
// fs.mqueue.* the IPC namespace, kernel.hostname/domainname the UTS
// namespace): a config that joins the runtime's own namespace of that type
// by path (an engine's "host network" with a sysctl left in) would change the
// host's value. runc refuses net.* there; ocirun refuses all three.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRoot, runtimeLeavingNoContainer, uniqueId, type BundleConfig } from '../helpers/ocirun.js';

const rt = runtimeLeavingNoContainer();

/** The namespace entries of `type` replaced by one joining `path`. */
function joining(c: BundleConfig, type: string, path: string): void {
  c.linux.namespaces = [...c.linux.namespaces.filter((ns) => ns.type !== type), { type, path }];
}

interface HostSysctl {
  key: string;
  namespace: string;
  file: string;
  /** A value other than the host's current one. */
  other: (current: string) => string;
}

const HOST_SYSCTLS: HostSysctl[] = [
  { key: 'net.ipv4.tcp_keepalive_time', namespace: 'network', file: '/proc/sys/net/ipv4/tcp_keepalive_time', other: (v) => String(Number(v) + 1) },
  { key: 'kernel.shmmni', namespace: 'ipc', file: '/proc/sys/kernel/shmmni', other: (v) => String(Number(v) - 1) },
  { key: 'kernel.domainname', namespace: 'uts', file: '/proc/sys/kernel/domainname', other: (v) => `${v}-x` },
];
const NS_FILE: Record<string, string> = { network: 'net', ipc: 'ipc', uts: 'uts' };

describe.skipIf(!isRoot)('linux.sysctl in a namespace joined by path', () => {
  it.each(HOST_SYSCTLS)("$key is refused when the $namespace namespace is the runtime's own; the host keeps its value", (s) => {
    const before = readFileSync(s.file, 'utf8');
    const b = rt.bundle(['true'], (c) => {
      joining(c, s.namespace, `/proc/${process.pid}/ns/${NS_FILE[s.namespace]}`);
      c.linux.sysctl = { [s.key]: s.other(before.trim()) };
      if (s.namespace === 'uts') delete c.hostname;
    });
    try {
      const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
      expect(readFileSync(s.file, 'utf8')).toBe(before);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `ocirun: config.json: /linux/sysctl/${s.key}: is not allowed in the runtime's own ${s.namespace === 'network' ? 'network' : s.namespace.toUpperCase()} namespace (/proc/${process.pid}/ns/${NS_FILE[s.namespace]}): it would change the host\n`,
      );
      expect(rt.containerIds()).toEqual([]);
    } finally {
      writeFileSync(s.file, before);
    }
  });

  it("is set in another container's network namespace joined by path", () => {
    const a = rt.bundle(['sleep', '1000']);
    const aId = uniqueId('netns');
    rt.ok(['run', '-d', '--bundle', a.dir, aId]);
    const b = rt.bundle(['cat', '/proc/sys/net/ipv4/tcp_keepalive_time'], (c) => {
      joining(c, 'network', `/proc/${rt.state(aId).pid}/ns/net`);
      c.linux.sysctl = { 'net.ipv4.tcp_keepalive_time': '4321' };
    });
    const r = rt.run(['run', '--bundle', b.dir, uniqueId()]);
    const seenInA = rt.ok(['exec', aId, 'cat', '/proc/sys/net/ipv4/tcp_keepalive_time']).stdout;
    rt.ok(['delete', '-f', aId]);
    expect(r.stdout).toBe('4321\n');
    expect(seenInA).toBe('4321\n');
  });
});
