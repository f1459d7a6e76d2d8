// `features` (runtime-spec features.md): what this build of ocirun really
// supports, taken from the modules that implement it where they list it.
import type { Globals } from './globals.js';
import { CAPABILITY_NAMES } from '../linux/capabilities.js';
import { KNOWN_MOUNT_OPTIONS } from '../linux/mount-options.js';
import { MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES } from '../linux/memory-policy.js';
import { NAMESPACES } from '../linux/namespaces.js';
import { seccompFeatures } from '../seccomp/features.js';
import { SPEC_VERSION } from '../spec/default-spec.js';
import { writeOut } from './options.js';
import packageJson from '../../package.json' with { type: 'json' };

export function features() {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: SPEC_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: [...KNOWN_MOUNT_OPTIONS].sort(),
    linux: {
      namespaces: Object.keys(NAMESPACES).sort(),
      capabilities: [...CAPABILITY_NAMES],
      // systemd: --systemd-cgroup makes transient scopes over systemd's private D-Bus socket (cgroups/systemd.ts).
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false, rdma: true },
      seccomp: seccompFeatures(),
      apparmor: { enabled: true },
      selinux: { enabled: true },
      // linux/intel-rdt.ts: schemata lines, and a monitoring group with enableMonitoring.
      intelRdt: { enabled: true, schemata: true, monitoring: true },
      // linux/idmap-mounts.ts: uidMappings/gidMappings and idmap/ridmap of bind mounts.
      mountExtensions: { idmap: { enabled: true } },
      // linux/memory-policy.ts: every mode and flag is passed to set_mempolicy(2).
      memoryPolicy: { modes: Object.keys(MEMORY_POLICY_MODES), flags: Object.keys(MEMORY_POLICY_FLAGS) },
      // linux/net-devices.ts.
      netDevices: { enabled: true },
    },
    annotations: {
      'io.github.ocirun.version': packageJson.version,
    },
  };
}

export default function featuresCommand(_globals: Globals): number {
  writeOut(`${JSON.stringify(features(), null, 2)}\n`);
  return 0;
}
