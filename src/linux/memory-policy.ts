// linux.memoryPolicy (config-linux.md "Memory policy"): the NUMA policy the
// container's processes allocate memory under, set with set_mempolicy(2) by
// the init and by each exec'd process before execve (a policy is per thread,
// inherited by children and kept across execve).
import type { ConfigProblem } from '../spec/validate.js';
import type { Spec } from '../spec/types.js';
import { SYS } from '../sys/arch.js';
import { messageOf } from '../errors.js';
import { syscall } from '../sys/libc.js';
import { bitmask, parseList, readSysList } from './cpu-list.js';

type MemoryPolicy = NonNullable<NonNullable<Spec['linux']>['memoryPolicy']>;

/** MPOL_* modes and mode flags (linux/mempolicy.h). */
export const MEMORY_POLICY_MODES: Record<string, number> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};
export const MEMORY_POLICY_FLAGS: Record<string, number> = {
  MPOL_F_NUMA_BALANCING: 1 << 13,
  MPOL_F_RELATIVE_NODES: 1 << 14,
  MPOL_F_STATIC_NODES: 1 << 15,
};

const NEEDS_NODES = new Set(['MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE', 'MPOL_PREFERRED_MANY']);
const NO_NODES = new Set(['MPOL_DEFAULT', 'MPOL_LOCAL']);
/** 1024 nodes: the kernel's largest MAX_NUMNODES. */
const NODEMASK_WORDS = 16;

/** What set_mempolicy(2) would refuse, said before anything exists. */
export function checkMemoryPolicy(config: Spec): ConfigProblem[] {
  const policy = config.linux?.memoryPolicy;
  if (!policy) return [];
  const at = '/linux/memoryPolicy';
  const problems: ConfigProblem[] = [];
  let nodes: number[] = [];
  try {
    nodes = parseList(policy.nodes ?? '');
  } catch (err) {
    problems.push({ pointer: `${at}/nodes`, message: (err as Error).message });
  }
  const flags = policy.flags ?? [];
  if (NO_NODES.has(policy.mode) && nodes.length > 0) problems.push({ pointer: `${at}/nodes`, message: `${policy.mode} takes no nodes` });
  if (NEEDS_NODES.has(policy.mode) && nodes.length === 0 && !problems.length) {
    problems.push({ pointer: `${at}/nodes`, message: `${policy.mode} needs at least one node` });
  }
  if (flags.includes('MPOL_F_STATIC_NODES') && flags.includes('MPOL_F_RELATIVE_NODES')) {
    problems.push({ pointer: `${at}/flags`, message: 'MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other' });
  }
  if (flags.includes('MPOL_F_NUMA_BALANCING') && policy.mode !== 'MPOL_BIND' && policy.mode !== 'MPOL_PREFERRED_MANY') {
    problems.push({ pointer: `${at}/flags`, message: 'MPOL_F_NUMA_BALANCING goes only with MPOL_BIND or MPOL_PREFERRED_MANY' });
  }
  if (policy.mode === 'MPOL_LOCAL' && flags.some((f) => f !== 'MPOL_F_NUMA_BALANCING')) {
    problems.push({ pointer: `${at}/flags`, message: 'MPOL_LOCAL takes no node flags' });
  }
  return problems;
}

/** Nodes this host does not have (unless relative to the allowed ones, MPOL_F_RELATIVE_NODES). */
export function checkHostMemoryPolicy(config: Spec): ConfigProblem[] {
  const policy = config.linux?.memoryPolicy;
  if (!policy?.nodes || policy.flags?.includes('MPOL_F_RELATIVE_NODES')) return [];
  let nodes: number[];
  try {
    nodes = parseList(policy.nodes);
  } catch {
    return []; // checkMemoryPolicy says so
  }
  const host = readSysList('/sys/devices/system/node/possible') ?? [0];
  const missing = nodes.filter((n) => !host.includes(n));
  if (missing.length === 0) return [];
  return [
    {
      pointer: '/linux/memoryPolicy/nodes',
      message: `this host has no memory node ${missing.join(', ')} (its nodes: ${host.join(',')})`,
    },
  ];
}

/** In the init or exec'd process, before seccomp and credentials: set_mempolicy(2) for itself. */
export function applyMemoryPolicy(policy: MemoryPolicy | undefined): void {
  if (!policy) return;
  const nodes = parseList(policy.nodes ?? '');
  const flags = (policy.flags ?? []).reduce((acc, f) => acc | MEMORY_POLICY_FLAGS[f], 0);
  const mask = nodes.length > 0 ? bitmask(nodes, NODEMASK_WORDS) : null;
  try {
    // maxnode counts one more than the bits the kernel reads (get_nodes() in mm/mempolicy.c).
    syscall('set_mempolicy', SYS.set_mempolicy, [
      'int',
      MEMORY_POLICY_MODES[policy.mode] | flags,
      'void *',
      mask,
      'unsigned long',
      mask ? NODEMASK_WORDS * 64 + 1 : 0,
    ]);
  } catch (err) {
    throw new Error(`linux.memoryPolicy ${policy.mode}${policy.nodes ? ` nodes ${policy.nodes}` : ''}: ${messageOf(err)}`);
  }
}
