// linux.netDevices (config-linux.md "Network Devices"): host interfaces moved
// into the container's network namespace, renamed when asked, with their
// permanent global addresses and brought up. The runtime does it (root of the
// host's user namespace may move an interface into any namespace), once the
// init is in its network namespace and before any hook runs.
//
// A move drops the interface's addresses (the kernel unregisters it from the
// old namespace's protocols), so they are read before and added again after.
//
// At delete nothing is moved back: the spec says the runtime MUST NOT, and
// the kernel handles it when the namespace goes (network_namespaces(7)):
// physical interfaces return to the initial namespace, virtual ones (veth,
// dummy, macvlan...) are destroyed. In a joined namespace they stay there.
import { fstatSync } from 'node:fs';
import { OciError, wrap } from '../errors.js';
import type { Spec } from '../spec/types.js';
import { escapePointerToken } from '../spec/json-pointer.js';
import type { ConfigProblem } from '../spec/validate.js';
import { CLONE, O, close, open, setns, syscall } from '../sys/libc.js';
import { SYS } from '../sys/arch.js';
import { RouteSocket, formatAddress, type Link } from './netlink.js';

/** IFNAMSIZ - 1: the longest interface name. */
const MAX_NAME = 15;

/** What dev_valid_name() in net/core/dev.c refuses. */
function nameProblem(name: string, allowTemplate: boolean): string | null {
  if (name === '' || Buffer.byteLength(name) > MAX_NAME) return `must be 1 to ${MAX_NAME} bytes long`;
  if (name === '.' || name === '..') return 'cannot be "." or ".."';
  if (/[/:\s]/.test(name)) return 'cannot contain "/", ":" or white space';
  const percents = name.split('%').length - 1;
  if (percents > 0 && !(allowTemplate && percents === 1 && name.includes('%d'))) {
    return allowTemplate ? 'may contain "%" only as one "%d" (a template the kernel fills in)' : 'cannot contain "%"';
  }
  return null;
}

/** What can be said of linux.netDevices from config.json alone. */
export function checkNetDevices(config: Spec): ConfigProblem[] {
  const devices = config.linux?.netDevices;
  if (!devices || Object.keys(devices).length === 0) return [];
  const problems: ConfigProblem[] = [];
  if (!config.linux?.namespaces?.some((ns) => ns.type === 'network')) {
    problems.push({
      pointer: '/linux/netDevices',
      message: 'needs a network namespace (a linux.namespaces entry of type "network"): there is none to move the devices into',
    });
  }
  const targets = new Map<string, string>();
  for (const [hostName, device] of Object.entries(devices)) {
    const at = `/linux/netDevices/${escapePointerToken(hostName)}`;
    const hostProblem = nameProblem(hostName, false);
    if (hostProblem) problems.push({ pointer: at, message: `the host interface name ${JSON.stringify(hostName)} ${hostProblem}` });
    const target = device.name || hostName;
    const targetProblem = device.name === undefined ? null : nameProblem(device.name, true);
    if (targetProblem) problems.push({ pointer: `${at}/name`, message: `${JSON.stringify(device.name)} ${targetProblem}` });
    const other = targets.get(target);
    if (other !== undefined && !target.includes('%d')) {
      problems.push({ pointer: at, message: `${hostName} and ${other} would both be named ${target} in the container` });
    }
    targets.set(target, hostName);
  }
  return problems;
}

/** Before anything exists: every device must be an interface of the runtime's network namespace. */
export function checkHostNetDevices(config: Spec): ConfigProblem[] {
  const names = Object.keys(config.linux?.netDevices ?? {});
  if (names.length === 0) return [];
  const sock = RouteSocket.open();
  try {
    return names
      .filter((name) => nameProblem(name, false) === null && sock.linkByName(name) === null)
      .map((name) => ({ pointer: `/linux/netDevices/${name}`, message: `there is no network interface ${name} on this host` }));
  } finally {
    sock.close();
  }
}

/** A route socket and namespace fd in the network namespace the process `pid` is in. */
interface TargetNamespace {
  sock: RouteSocket;
  netnsFd: number;
}

function pidfdOpen(pid: number): number {
  return syscall('pidfd_open', SYS.pidfd_open, ['int', pid, 'unsigned int', 0], String(pid));
}

/**
 * setns(2) acts on the calling thread only (a multithreaded caller may change
 * its network namespace): this thread enters the init's namespace through a
 * pidfd (Linux 5.8), opens a socket and a namespace fd there, and comes back.
 * Sockets stay in the namespace they were made in.
 */
function openTargetNamespace(pid: number): TargetNamespace {
  const own = open('/proc/thread-self/ns/net', O.RDONLY | O.CLOEXEC);
  const pidfd = pidfdOpen(pid);
  let netnsFd = -1;
  let sock: RouteSocket | undefined;
  try {
    setns(pidfd, CLONE.NEWNET, "the container's network namespace");
    try {
      netnsFd = open('/proc/thread-self/ns/net', O.RDONLY | O.CLOEXEC);
      sock = RouteSocket.open();
    } finally {
      setns(own, CLONE.NEWNET, "the runtime's network namespace");
    }
    const a = fstatSync(own);
    const b = fstatSync(netnsFd);
    if (a.ino === b.ino && a.dev === b.dev) {
      throw new OciError('invalid-config', "linux.netDevices: the container's network namespace is the host's: there is nothing to move the devices into");
    }
    return { sock, netnsFd };
  } catch (err) {
    sock?.close();
    if (netnsFd >= 0) close(netnsFd);
    throw err;
  } finally {
    close(pidfd);
    close(own);
  }
}

/**
 * In the runtime, once the init (pid) is in its network namespace: moves
 * every device of linux.netDevices there. A failure leaves the devices moved
 * so far in the container's namespace, which the caller's cleanup (killing
 * the init) then ends as for any container.
 */
export function moveNetDevices(config: Spec, pid: number): void {
  const devices = Object.entries(config.linux?.netDevices ?? {});
  if (devices.length === 0) return;
  const host = RouteSocket.open();
  let target: TargetNamespace | undefined;
  try {
    target = openTargetNamespace(pid);
    for (const [hostName, device] of devices) moveDevice(host, target, hostName, device.name || hostName);
  } finally {
    host.close();
    target?.sock.close();
    if (target) close(target.netnsFd);
  }
}

function moveDevice(host: RouteSocket, target: TargetNamespace, hostName: string, name: string): void {
  const field = `linux.netDevices.${hostName}`;
  const fail = (what: string, err: unknown): never => {
    throw wrap(err, `${field}: ${what}`, { code: 'container-init' });
  };
  const link = host.linkByName(hostName);
  if (!link) throw new OciError('invalid-config', `${field}: there is no network interface ${hostName} on this host`);
  const addresses = host.permanentGlobalAddresses(link.index);
  const template = name.includes('%d');
  // config-linux.md: an existing name in the container's namespace is an error, unless it is a template.
  if (!template && target.sock.linkByName(name)) {
    throw new OciError('invalid-config', `${field}: the container's network namespace already has an interface named ${name}`);
  }
  const before = template ? new Set(target.sock.links().map((l) => l.index)) : null;
  try {
    host.moveLink(link.index, name, target.netnsFd);
  } catch (err) {
    fail(`moving ${hostName} into the container's network namespace as ${name}`, err);
  }
  const moved: Link | null | undefined = before
    ? target.sock.links().find((l) => !before.has(l.index) && matchesTemplate(l.name, name))
    : target.sock.linkByName(name);
  if (!moved) throw new OciError('container-init', `${field}: moved as ${name}, but not found in the container's network namespace`);
  for (const address of addresses) {
    try {
      target.sock.addAddress(moved.index, address, `RTM_NEWADDR ${formatAddress(address)}`);
    } catch (err) {
      fail(`adding its address ${formatAddress(address)} back on ${moved.name}`, err);
    }
  }
  try {
    target.sock.setLinkUp(moved.index, moved.name);
  } catch (err) {
    fail(`setting ${moved.name} up`, err);
  }
}

function matchesTemplate(name: string, template: string): boolean {
  const [prefix, suffix] = template.split('%d');
  const middle = name.slice(prefix.length, name.length - suffix.length);
  return name.startsWith(prefix) && name.endsWith(suffix) && /^[0-9]+$/.test(middle);
}
