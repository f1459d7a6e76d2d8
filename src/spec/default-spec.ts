// The config.json written by `ocirun spec`: the document `runc spec` (runc 1.1.5)
// writes, field for field and key for key, except for ociVersion.

export const SPEC_VERSION = '1.3.0';

export interface DefaultSpecOptions {
  rootless: boolean;
  /** Host uid mapped to root in the container when rootless (default: the caller's euid). */
  uid?: number;
  /** Host gid mapped to root in the container when rootless (default: the caller's egid). */
  gid?: number;
}

interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

const DEFAULT_CAPABILITIES = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(opts: DefaultSpecOptions): Record<string, unknown> {
  return {
    ociVersion: SPEC_VERSION,
    process: defaultProcess(),
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: defaultMounts(opts.rootless),
    linux: opts.rootless ? rootlessLinux(opts.uid ?? process.geteuid?.() ?? 0, opts.gid ?? process.getegid?.() ?? 0) : rootfulLinux(),
  };
}

function defaultProcess(): Record<string, unknown> {
  return {
    terminal: true,
    user: { uid: 0, gid: 0 },
    args: ['sh'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
    cwd: '/',
    capabilities: {
      bounding: [...DEFAULT_CAPABILITIES],
      effective: [...DEFAULT_CAPABILITIES],
      permitted: [...DEFAULT_CAPABILITIES],
      ambient: [...DEFAULT_CAPABILITIES],
    },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  };
}

// Rootless differs in two mounts: devpts without gid=5 (that group is unmapped)
// and /sys bind-mounted from the host, since sysfs can't be mounted without a
// network namespace of one's own.
function defaultMounts(rootless: boolean): Mount[] {
  const devptsOptions = ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'];
  const sysOptions = ['nosuid', 'noexec', 'nodev', 'ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: rootless ? devptsOptions : [...devptsOptions, 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // "ro" leaves the host's mounts below /sys writable to a container root
    // that unmounts what covers them (its cgroup mount): "rro" makes them
    // read-only too, where runc's rootless spec stops at "ro" (CVE-2023-25809).
    rootless
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', ...sysOptions, 'rro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOptions },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ];
}

function rootfulLinux(): Record<string, unknown> {
  return {
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
    maskedPaths: maskedPaths(),
    readonlyPaths: readonlyPaths(),
  };
}

// No resources (an unprivileged caller can't use cgroups), no network namespace
// (no way to configure it), and a user namespace mapping root to the caller.
function rootlessLinux(uid: number, gid: number): Record<string, unknown> {
  const uidMappings: IdMapping[] = [{ containerID: 0, hostID: uid, size: 1 }];
  const gidMappings: IdMapping[] = [{ containerID: 0, hostID: gid, size: 1 }];
  return {
    uidMappings,
    gidMappings,
    namespaces: ['pid', 'ipc', 'uts', 'mount', 'user'].map((type) => ({ type })),
    maskedPaths: maskedPaths(),
    readonlyPaths: readonlyPaths(),
  };
}

function maskedPaths(): string[] {
  return [
    '/proc/acpi',
    '/proc/asound',
    '/proc/kcore',
    '/proc/keys',
    '/proc/latency_stats',
    '/proc/timer_list',
    '/proc/timer_stats',
    '/proc/sched_debug',
    '/sys/firmware',
    '/proc/scsi',
  ];
}

function readonlyPaths(): string[] {
  return ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
}
