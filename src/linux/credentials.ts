// process.capabilities, process.user and noNewPrivileges, in the order
// capabilities(7) needs: the bounding set is dropped while the init is still
// root, the capabilities are kept across the switch of user
// (PR_SET_KEEPCAPS), and the other sets are set once the user is the
// container's, since a change of uid from 0 clears them.
import type { Process } from '../spec/types.js';
import { PR } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { applyCapabilitySets, dropBoundingSet, ownBoundingSet, toMasks, type CapabilityMasks } from './capabilities.js';
import { setgroupsAllowed, switchUser } from './user.js';

export interface CredentialFacts {
  caps: CapabilityMasks | null;
  /** This process's bounding set, before it drops anything. */
  available: bigint;
  setgroupsAllowed: boolean;
}

/** What /proc and prctl(2) say, read before a seccomp filter may stand in the way. */
export function readCredentialFacts(processSpec: Process): CredentialFacts {
  return {
    caps: processSpec.capabilities ? toMasks(processSpec.capabilities) : null,
    available: ownBoundingSet(),
    setgroupsAllowed: setgroupsAllowed(),
  };
}

export function applyCredentials(kernel: Kernel, processSpec: Process, { caps, available, setgroupsAllowed }: CredentialFacts): void {
  if (caps) dropBoundingSet(kernel, caps);
  switchUser(kernel, processSpec.user, setgroupsAllowed);
  if (caps) applyCapabilitySets(kernel, caps, available);
  if (processSpec.noNewPrivileges) kernel.prctl(PR.SET_NO_NEW_PRIVS, 1);
}
