import { fstatSync } from 'node:fs';
import path from 'node:path';
import { lookupInRoot, openRoot } from '../linux/paths.js';
import { close } from '../sys/libc.js';
import { OciError } from '../errors.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Looked up inside the root without magic links: /proc/self/fd/N/... could
 * otherwise name a binary of the host through an fd the runtime inherited.
 */
function isExecutableFile(p: string): boolean {
  const rootFd = openRoot('/');
  let fd: number | null = null;
  try {
    fd = lookupInRoot(rootFd, p);
    if (fd === null) return false;
    const st = fstatSync(fd);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  } finally {
    if (fd !== null) close(fd);
    close(rootFd);
  }
}

/**
 * Resolves process.args[0] the way execvp(3) does, with the container's own
 * PATH, inside the container's root. Throws runc's message when not found.
 */
export function resolveExecutable(name: string, env: string[], cwd: string): string {
  if (name.includes('/')) {
    const full = path.resolve(cwd, name);
    if (isExecutableFile(full)) return full;
    throw new OciError('container-init', `exec: ${JSON.stringify(name)}: no such executable file in the container`);
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) {
    const candidate = path.resolve(cwd, dir || '.', name);
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new OciError('container-init', `exec: ${JSON.stringify(name)}: executable file not found in $PATH`);
}
