// Linux security modules: the AppArmor profile (process.apparmorProfile) and
// SELinux labels (process.selinuxLabel, linux.mountLabel). Both process
// labels are requested for the next execve(2) through /proc/self/attr, so the
// runtime's own remaining steps keep running unconfined. Asking for a process
// label the host cannot apply is an error at create time; a mount label is
// ignored with a warning.
import { readFileSync } from 'node:fs';
import type { ConfigProblem } from '../spec/validate.js';
import type { Process } from '../spec/types.js';
import { warn } from '../log.js';
import { procfs } from './procfs.js';
import { OciError, errnoOf, wrap } from '../errors.js';

const APPARMOR_ENABLED = '/sys/module/apparmor/parameters/enabled';

export function apparmorEnabled(): boolean {
  try {
    return readFileSync(APPARMOR_ENABLED, 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/** SELinux is usable when selinuxfs is mounted (normally on /sys/fs/selinux). */
export function selinuxEnabled(): boolean {
  return mountedFilesystemTypes().has('selinuxfs');
}

function mountedFilesystemTypes(): Set<string> {
  try {
    return new Set(
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((line) => line.split(' - ')[1]?.split(' ')[0])
        .filter((type): type is string => Boolean(type)),
    );
  } catch {
    return new Set();
  }
}

/** Process labels requested on a host without the module that applies them. */
export function checkLsmSupport(processSpec: Process | undefined, base: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (processSpec?.apparmorProfile && !apparmorEnabled()) {
    problems.push({
      pointer: `${base}/apparmorProfile`,
      message: `AppArmor is not enabled on this host (${APPARMOR_ENABLED} is not "Y"): cannot apply profile ${JSON.stringify(processSpec.apparmorProfile)}`,
    });
  }
  const label = processSpec?.selinuxLabel;
  if (label && !selinuxEnabled()) {
    problems.push({ pointer: `${base}/selinuxLabel`, message: `${SELINUX_OFF}: cannot apply label ${JSON.stringify(label)}` });
  }
  return problems;
}

const SELINUX_OFF = 'SELinux is not enabled on this host (no selinuxfs mounted)';

/**
 * linux.mountLabel, or undefined with a warning on a host without SELinux:
 * mounts have no label to carry there, and crun goes on without one.
 */
export function applicableMountLabel(mountLabel: string | undefined): string | undefined {
  if (!mountLabel || selinuxEnabled()) return mountLabel;
  warn(`linux.mountLabel: ${SELINUX_OFF}: ignoring ${JSON.stringify(mountLabel)}`);
  return undefined;
}

/** In the init, after the root filesystem is final: labels for the coming execve. */
export function applyLsmLabels(processSpec: Process): void {
  if (processSpec.apparmorProfile) applyAppArmorProfile(processSpec.apparmorProfile);
  if (processSpec.selinuxLabel) {
    writeAttr(['attr/exec'], processSpec.selinuxLabel, 'process.selinuxLabel');
  }
}

/** AppArmor's own attr directory (Linux 5.8+) first: /proc/self/attr/exec may belong to another LSM. */
function applyAppArmorProfile(profile: string): void {
  writeAttr(['attr/apparmor/exec', 'attr/exec'], `exec ${profile}`, 'process.apparmorProfile');
}

/** `files` below /proc/self, written through the runtime's procfs (procfs.ts), never the container's /proc. */
function writeAttr(files: string[], value: string, field: string): void {
  for (const file of files) {
    try {
      procfs().writeSelf(file, value);
      return;
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw wrap(err, `${field}: cannot write ${JSON.stringify(value)} to /proc/self/${file}`, { errnoOnly: true });
    }
  }
  throw new OciError('container-init', `${field}: none of ${files.map((f) => `/proc/self/${f}`).join(', ')} exists: is the security module enabled?`);
}

/** Filesystems whose mounts take the SELinux context= option (runc leaves out proc, sysfs, mqueue, cgroups). */
const UNLABELLED_TYPES = new Set(['proc', 'sysfs', 'mqueue', 'cgroup', 'cgroup2', 'bind']);

/** mount(2) data with linux.mountLabel added, for a filesystem mount (not a bind). */
export function withMountLabel(type: string | undefined, data: string[], mountLabel: string | undefined): string[] {
  if (!mountLabel || (type !== undefined && UNLABELLED_TYPES.has(type))) return data;
  if (data.some((option) => option.startsWith('context='))) return data;
  return [...data, `context="${mountLabel}"`];
}
