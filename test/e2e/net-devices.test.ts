// linux.netDevices (config-linux.md "Network Devices"): host interfaces moved
// into the container's network namespace, renamed, up, with their permanent
// global addresses; a clear error, before anything is moved, when the move
// cannot be made. This kernel has veth (not every one has dummy), so the
// moved interfaces are veth ends; `ip` sets them up and looks at them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Runtime, isRoot, refusedCreate, uniqueId, waitFor, type Bundle, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
const hostLinks = new Set<string>();
const netnsNames = new Set<string>();
afterEach(() => {
  for (const link of hostLinks) ip(['link', 'del', link]);
  hostLinks.clear();
  for (const ns of netnsNames) ip(['netns', 'del', ns]);
  netnsNames.clear();
});
afterAll(() => {
  const left = rt.containerIds();
  rt.dispose();
  expect(left, 'containers left behind').toEqual([]);
});

function ip(args: string[]): { code: number; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { code: r.status ?? 1, out: r.stdout + r.stderr };
}

let counter = 0;
/** A veth pair on the host, `a` with the given addresses ("ip address add" arguments). Both ends are removed after the test. */
function vethPair(addresses: string[][] = []): { a: string; b: string } {
  const n = `${process.pid % 10000}${++counter}`;
  const a = `ndA${n}`;
  const b = `ndB${n}`;
  expect(ip(['link', 'add', a, 'type', 'veth', 'peer', 'name', b]).code).toBe(0);
  hostLinks.add(a);
  hostLinks.add(b);
  for (const args of addresses) expect(ip(['address', 'add', ...args, 'dev', a]).out).toBe('');
  return { a, b };
}

function bundle(script: string, mutate: (c: BundleConfig) => void): Bundle {
  return rt.bundle(['sh', '-c', script], mutate);
}

function refused(mutate: (c: BundleConfig) => void): string {
  return refusedCreate(rt, bundle('true', mutate), 'nd-bad');
}

const hostHas = (link: string) => ip(['link', 'show', link]).code === 0;

describe.skipIf(!isRoot)('linux.netDevices', () => {
  it('moves an interface in under its new name, up, with its permanent global addresses only', () => {
    const { a, b } = vethPair([
      ['192.0.2.7/24'],
      ['2001:db8::7/64', 'nodad'],
      ['198.51.100.1/32', 'scope', 'link'],
      ['203.0.113.5/24', 'valid_lft', '1000', 'preferred_lft', '1000'],
    ]);
    const bndl = bundle('ip -o link show ctr0; ip -o address show dev ctr0', (c) => {
      c.linux.netDevices = { [a]: { name: 'ctr0' } };
    });
    const id = uniqueId('nd');
    const r = rt.run(['run', '--bundle', bndl.dir, id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ ctr0@\S+: <[^>]*\bUP\b/);
    expect(r.stdout).toContain('inet 192.0.2.7/24');
    expect(r.stdout).toContain('inet6 2001:db8::7/64');
    expect(r.stdout, 'a link-scope address is not global').not.toContain('198.51.100.1');
    expect(r.stdout, 'an address with a lifetime is not permanent').not.toContain('203.0.113.5');
    // Gone with the container's namespace: a veth is destroyed there, and its host end with it.
    expect(hostHas(a)).toBe(false);
    waitFor(() => !hostHas(b), `the host end ${b} to go with the container's network namespace`);
  });

  it('has moved them when the createRuntime hooks run', () => {
    const { a } = vethPair([['192.0.2.11/24']]);
    const seen = rt.scratchPath(`nd-hook-${++counter}`);
    const bndl = bundle('true', (c) => {
      c.linux.netDevices = { [a]: { name: 'ctr0' } };
      const script = `pid=$(sed 's/.*"pid": *\\([0-9]*\\).*/\\1/'); nsenter -t "$pid" -n ip -o address show dev ctr0 > ${seen}`;
      c.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', script] }] };
    });
    const r = rt.run(['run', '--bundle', bndl.dir, uniqueId('nd')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(seen, 'utf8')).toContain('inet 192.0.2.11/24');
  });

  it('lets the kernel pick the name from a template with %d', () => {
    const { a } = vethPair();
    const bndl = bundle('ls /sys/class/net', (c) => {
      c.linux.netDevices = { [a]: { name: 'ctr%d' } };
    });
    const r = rt.run(['run', '--bundle', bndl.dir, uniqueId('nd')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split(/\s+/)).toContain('ctr0');
  });

  it('keeps the host name without one, and leaves the device in a joined namespace at delete', () => {
    const { a } = vethPair([['192.0.2.9/24']]);
    const ns = `ocirun-nd-${process.pid}-${++counter}`;
    expect(ip(['netns', 'add', ns]).code).toBe(0);
    netnsNames.add(ns);
    const bndl = bundle(`ip -o address show dev ${a}`, (c) => {
      c.linux.netDevices = { [a]: {} };
      c.linux.namespaces = c.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${ns}` } : n));
    });
    const r = rt.run(['run', '--bundle', bndl.dir, uniqueId('nd')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('inet 192.0.2.9/24');
    // config-linux.md: the runtime MUST NOT move it out; the namespace's owner decides.
    expect(ip(['-n', ns, '-o', 'link', 'show', a]).out).toMatch(/\bUP\b/);
    expect(hostHas(a)).toBe(false);
  });

  it('refuses a name the container already has, before moving anything', () => {
    const { a } = vethPair();
    const err = refused((c) => {
      c.linux.netDevices = { [a]: { name: 'lo' } };
    });
    expect(err).toContain(`linux.netDevices.${a}: the container's network namespace already has an interface named lo`);
    expect(hostHas(a), 'the device stays on the host').toBe(true);
  });

  it('refuses a device the host does not have', () => {
    const err = refused((c) => {
      c.linux.netDevices = { nosuchif0: {} };
    });
    expect(err).toContain('/linux/netDevices/nosuchif0: there is no network interface nosuchif0 on this host');
  });

  it('refuses devices without a network namespace to move them into', () => {
    const { a } = vethPair();
    const err = refused((c) => {
      c.linux.netDevices = { [a]: {} };
      c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
    });
    expect(err).toContain('/linux/netDevices: needs a network namespace');
    expect(hostHas(a)).toBe(true);
  });

  it('refuses names the kernel would refuse', () => {
    const { a } = vethPair();
    expect(
      refused((c) => {
        c.linux.netDevices = { [a]: { name: 'a/b' } };
      }),
    ).toContain(`/linux/netDevices/${a}/name: "a/b" cannot contain "/", ":" or white space`);
    expect(
      refused((c) => {
        c.linux.netDevices = { [a]: { name: 'a-name-too-long-for-linux' } };
      }),
    ).toContain('must be 1 to 15 bytes long');
  });
});
