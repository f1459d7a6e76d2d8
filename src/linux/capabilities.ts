// Capability names to numbers and applying the five sets
// (capabilities(7): bounding, then credentials, then capset, then ambient).
import type { Capabilities, Process } from '../spec/types.js';
import { warn } from '../log.js';
import { PR, capbsetRead } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { OciError, wrap } from '../errors.js';

export const CAPABILITY_NAMES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

let knownLastCap: number | undefined;

/**
 * The kernel's highest capability number: the highest that PR_CAPBSET_READ
 * takes, as it refuses (EINVAL) any number above CAP_LAST_CAP, which is what
 * /proc/sys/kernel/cap_last_cap shows (prctl(2)). Asked of the kernel, not
 * read from a procfs: the runtime needs no procfs of its own for it.
 */
export function lastCap(): number {
  if (knownLastCap !== undefined) return knownLastCap;
  // From the last capability named here, down on an older kernel, up on a newer one.
  let last = CAPABILITY_NAMES.length - 1;
  while (last >= 0 && capbsetRead(last) === null) last--;
  if (last < 0) throw new OciError('system', 'prctl(PR_CAPBSET_READ) knows no capability');
  while (last < 63 && capbsetRead(last + 1) !== null) last++;
  knownLastCap = last;
  return knownLastCap;
}

const CAPABILITY_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;

/**
 * The process with only the capabilities its init can be given: a name this
 * kernel does not know, or one outside the bounding set the init starts with,
 * is dropped with one warning, as runc does (config.md: runtimes "SHOULD NOT
 * fail if the container configuration requests capabilities that cannot be
 * granted"). A process in a user namespace (made or joined) starts with a full
 * bounding set there (user_namespaces(7)); otherwise with the runtime's own.
 */
export function withGrantableCapabilities(processSpec: Process, inUserNamespace: boolean): Process {
  const caps = processSpec.capabilities;
  if (!caps) return processSpec;
  const last = lastCap();
  const available = inUserNamespace ? (1n << BigInt(last + 1)) - 1n : ownBoundingSet();
  const ignored = new Map<string, string>();
  const grantable = (name: string) => {
    const bit = CAPABILITY_NAMES.indexOf(name as (typeof CAPABILITY_NAMES)[number]);
    if (bit < 0 || bit > last) ignored.set(name, 'unknown to this kernel');
    else if (!((available >> BigInt(bit)) & 1n)) ignored.set(name, "not in ocirun's own bounding set");
    else return true;
    return false;
  };
  const kept: Capabilities = {};
  for (const set of CAPABILITY_SETS) if (caps[set]) kept[set] = caps[set]!.filter(grantable);
  if (ignored.size === 0) return processSpec;
  warn(`process.capabilities: ignoring ${[...ignored].map(([name, why]) => `${name} (${why})`).join(', ')}: they cannot be granted`);
  return { ...processSpec, capabilities: kept };
}

export interface CapabilityMasks {
  bounding: bigint;
  effective: bigint;
  inheritable: bigint;
  permitted: bigint;
  ambient: bigint;
}

/** Unknown names are left out here (withGrantableCapabilities warned about them). */
export function toMasks(caps: Capabilities): CapabilityMasks {
  const last = lastCap();
  const mask = (names: string[] = []) =>
    names.reduce((acc, name) => {
      const bit = CAPABILITY_NAMES.indexOf(name as (typeof CAPABILITY_NAMES)[number]);
      return bit < 0 || bit > last ? acc : acc | (1n << BigInt(bit));
    }, 0n);
  return {
    bounding: mask(caps.bounding),
    effective: mask(caps.effective),
    inheritable: mask(caps.inheritable),
    permitted: mask(caps.permitted),
    ambient: mask(caps.ambient),
  };
}

export function namesOf(mask: bigint): string[] {
  return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The bounding set this process may still grant from. */
export function ownBoundingSet(): bigint {
  let set = 0n;
  for (let cap = 0; cap <= lastCap(); cap++) {
    if (capbsetRead(cap)) set |= 1n << BigInt(cap);
  }
  return set;
}

export function dropBoundingSet(kernel: Kernel, masks: CapabilityMasks): void {
  const last = lastCap();
  for (let cap = 0; cap <= last; cap++) {
    if (!((masks.bounding >> BigInt(cap)) & 1n)) kernel.prctl(PR.CAPBSET_DROP, cap);
  }
}

/**
 * After the switch to the container's user. A capability missing from the
 * runtime's own bounding set cannot be granted (capset fails with EPERM):
 * say which one instead of the bare errno.
 */
export function applyCapabilitySets(kernel: Kernel, masks: CapabilityMasks, available: bigint): void {
  const wanted = masks.permitted | masks.effective | masks.inheritable | masks.ambient;
  const missing = wanted & ~available;
  if (missing !== 0n) {
    throw new OciError(
      'container-init',
      `cannot grant ${namesOf(missing).join(', ')}: the host does not give ${missing & (missing - 1n) ? 'them' : 'it'} to ocirun (not in its bounding set); remove it from process.capabilities`,
    );
  }
  try {
    kernel.capset({ effective: masks.effective, permitted: masks.permitted, inheritable: masks.inheritable });
  } catch (err) {
    throw wrap(err, 'setting capabilities');
  }
  // The kernel only lets a capability be ambient when it is both permitted and
  // inheritable (capabilities(7)); runc skips the others silently, and so do we.
  const ambient = masks.ambient & masks.permitted & masks.inheritable;
  kernel.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL);
  for (let cap = 0; cap < 64; cap++) {
    if ((ambient >> BigInt(cap)) & 1n) kernel.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, cap);
  }
}
