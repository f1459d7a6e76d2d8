// Switching the init to process.user: supplementary groups, gid, uid, with
// capabilities kept across the switch (PR_SET_KEEPCAPS, capabilities(7)).
import { readFileSync } from 'node:fs';
import type { Process } from '../spec/types.js';
import { PR, SysError } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { procfs } from './procfs.js';
import { OciError } from '../errors.js';

/** `setgroupsAllowed`: from the function of that name, read before a seccomp filter may be loaded. */
export function switchUser(kernel: Kernel, user: Process['user'], setgroupsAllowed: boolean): void {
  const uid = user?.uid ?? 0;
  const gid = user?.gid ?? 0;
  const groups = user?.additionalGids ?? [];
  kernel.prctl(PR.SET_KEEPCAPS, 1);
  if (setgroupsAllowed) kernel.setgroups(groups);
  else if (groups.length > 0) {
    throw new OciError('container-init', 'process.user.additionalGids: setgroups is denied in this user namespace (its gid map was written without privilege)');
  }
  kernel.setresgid(gid);
  kernel.setresuid(uid);
  kernel.prctl(PR.SET_KEEPCAPS, 0);
}

// An unprivileged runtime must write "deny" to /proc/<pid>/setgroups before
// it may write gid_map (user_namespaces(7)); setgroups(2) then fails with EPERM.
export function setgroupsAllowed(): boolean {
  let text: string;
  try {
    text = procfs().readSelf('setgroups');
  } catch (err) {
    if (err instanceof SysError && err.code === 'ENOENT') return true; // before Linux 3.19
    throw err;
  }
  const value = text.trim();
  if (value !== 'allow' && value !== 'deny') throw new OciError('container-init', `/proc/self/setgroups holds ${JSON.stringify(text)}, not allow or deny`);
  return value === 'allow';
}

/** HOME from the container's /etc/passwd when the config does not set it, as runc does. */
export function homeFor(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const fields = line.split(':');
      if (fields.length >= 6 && Number(fields[2]) === uid && fields[2] !== '') return fields[5] || '/';
    }
  } catch {
    // no /etc/passwd in the image
  }
  return '/';
}
