// linux.sysctl and the namespaces that isolate each sysctl
// (network_namespaces(7), ipc_namespaces(7), uts_namespaces(7)). A sysctl is
// written in the container's namespace of its type: one that no namespace
// isolates, or whose namespace is the runtime's own, would change the host.
import { OciError } from '../errors.js';
import type { NamespaceType } from '../spec/types.js';
import { escapePointerToken } from '../spec/json-pointer.js';
import { isOwnNamespace, type NamespacePlan } from './namespaces.js';

/** The sysctls of the IPC namespace besides fs.mqueue.* (ipc_namespaces(7)). */
const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

const UTS_SYSCTLS = new Set(['kernel.hostname', 'kernel.domainname']);

export type SysctlNamespace = Extract<NamespaceType, 'network' | 'ipc' | 'uts'>;

export const SYSCTL_NAMESPACE_NAMES: Record<SysctlNamespace, string> = { network: 'network', ipc: 'IPC', uts: 'UTS' };

/** The namespace type that isolates a sysctl, or undefined when none does. */
export function sysctlNamespace(key: string): SysctlNamespace | undefined {
  // sysctl(8) accepts both "net.ipv4.ip_forward" and "net/ipv4/ip_forward".
  const name = key.replace(/\//g, '.');
  if (name.startsWith('net.')) return 'network';
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) return 'ipc';
  if (UTS_SYSCTLS.has(name)) return 'uts';
  return undefined;
}

/**
 * create, once the namespaces to join are open: a sysctl whose namespace the
 * container joins by a path that leads to the runtime's own namespace (the
 * host's network, say) is refused, as runc refuses net.* there. The config
 * check already refused sysctls without a namespace entry of their type.
 */
export function refuseSysctlsInRuntimeNamespaces(plan: NamespacePlan, sysctl: Record<string, string> = {}): void {
  for (const key of Object.keys(sysctl)) {
    const type = sysctlNamespace(key);
    const join = plan.joins.find((j) => j.type === type);
    if (!type || !join || !isOwnNamespace(join.fd, type)) continue;
    const pointer = `/linux/sysctl/${escapePointerToken(key)}`;
    throw new OciError(
      'invalid-config',
      `config.json: ${pointer}: is not allowed in the runtime's own ${SYSCTL_NAMESPACE_NAMES[type]} namespace (${join.path}): it would change the host`,
    );
  }
}
