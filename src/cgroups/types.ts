// linux.resources as config.json carries it (runtime-spec config-linux.md,
// "Control groups"), and the one interface every cgroup driver implements.
import type { Stats } from './stats.js';

export interface DeviceRule {
  allow: boolean;
  /** "a" (all, the default), "c" or "b". */
  type?: string;
  /** Absent or -1: every major (minor). */
  major?: number;
  minor?: number;
  /** A combination of r, w and m. */
  access?: string;
}

export interface MemoryResources {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface CpuResources {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface WeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface ThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface BlockIOResources {
  weight?: number;
  leafWeight?: number;
  weightDevice?: WeightDevice[];
  throttleReadBpsDevice?: ThrottleDevice[];
  throttleWriteBpsDevice?: ThrottleDevice[];
  throttleReadIOPSDevice?: ThrottleDevice[];
  throttleWriteIOPSDevice?: ThrottleDevice[];
}

export interface HugepageLimit {
  pageSize: string;
  limit: number;
}

export interface NetworkResources {
  classID?: number;
  priorities?: { name: string; priority: number }[];
}

export interface RdmaLimit {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface LinuxResources {
  devices?: DeviceRule[];
  memory?: MemoryResources;
  cpu?: CpuResources;
  pids?: { limit: number };
  blockIO?: BlockIOResources;
  hugepageLimits?: HugepageLimit[];
  network?: NetworkResources;
  rdma?: Record<string, RdmaLimit>;
  unified?: Record<string, string>;
}

/** The host's cgroup layout (cgroups(7)): v1 only, v1 with an empty cgroup2 beside it, or v2 only. */
export type CgroupMode = 'v1' | 'hybrid' | 'v2';

/** Key of the unified (cgroup2) hierarchy in a paths record, as runc's state.json has it. */
export const UNIFIED = '';

export interface SetOptions {
  /**
   * An update of a running container: only the fields given change, and the
   * device rules are left alone (rewriting them would briefly deny every device).
   */
  update?: boolean;
}

/**
 * Where a new process of the container goes, for spawn to put it there at the
 * clone (process/spawn.ts): the cgroup2 directory, if any, and one directory
 * per v1 hierarchy.
 */
export interface CgroupPlacement {
  unified?: string;
  v1: string[];
  /** The v1 memory directory (not in v1): joined last (see process/spawn.ts). */
  memory?: string;
  /** What to name in an error: "linux.cgroupsPath", or the container's cgroup for exec. */
  field: string;
}

/**
 * One container's cgroup(s). The driver knows where its directories are from
 * construction on; nothing touches the filesystem before create().
 */
export interface CgroupManager {
  readonly version: 1 | 2;
  /** Controller name (v1; "name=systemd" for named hierarchies) or "" (v2) → absolute directory. */
  readonly paths: Record<string, string>;
  /** Fails, naming the field, when the host cannot apply one of these settings. No side effects. */
  check(resources: LinuxResources): void;
  /** Makes the directories; refuses a cgroup that already has processes or is frozen. */
  create(): void;
  /** Moves a process into every hierarchy. */
  apply(pid: number): void;
  /** The directories a new process of the container is placed in. */
  placement(): CgroupPlacement;
  set(resources: LinuxResources, opts?: SetOptions): void;
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  /** Every process in the cgroup and in cgroups below it. */
  pids(): number[];
  stats(): Stats;
  /** Processes of the container the OOM killer has killed so far. */
  oomKillCount(): number;
  exists(): boolean;
  /**
   * Removes the directories (sub-cgroups first). With `onlyCreated`, only the
   * ones create() made, so a failed create never removes a cgroup it found.
   */
  destroy(opts?: { onlyCreated?: boolean }): void;
}
