// Writing files at paths the caller names (--pid-file, --log, spec's
// config.json). ocirun usually runs as root, and such a path often lies in a
// directory another user can change (a bundle directory they own): a symlink
// planted there would make root write wherever it points. So a file is never
// written through a symlink that such a user could have planted.
import { closeSync, constants as fsc, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

// (libuv adds O_CLOEXEC to every open.)
const NEW_FILE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;

function writeAll(fd: number, data: string): void {
  const buf = Buffer.from(data);
  for (let done = 0; done < buf.length;) done += writeSync(fd, buf, done);
}

/**
 * Creates `target` with `data`; fails with EEXIST if anything, a symlink
 * included, is already there (O_EXCL never follows one: open(2)).
 */
export function createNewFile(target: string, data: string, mode: number): void {
  const fd = openSync(target, NEW_FILE, mode);
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `target` atomically: a new file under a name nobody can guess,
 * created with O_EXCL|O_NOFOLLOW next to it, then renamed over it. rename(2)
 * replaces a symlink at `target` itself, never the file it points to.
 */
export function replaceFile(target: string, data: string, mode: number): void {
  const dir = path.dirname(target);
  for (let attempt = 0; ; attempt++) {
    const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    try {
      createNewFile(temp, data, mode);
    } catch (err) {
      // someone created that very name meanwhile: draw another
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 5) continue;
      throw err;
    }
    try {
      renameSync(temp, target);
    } catch (err) {
      unlinkSync(temp);
      throw err;
    }
    return;
  }
}

/**
 * Opens `target` for appending, created if missing. A symlink there is
 * followed only in a directory no one but root can change (such as /dev, for
 * --log /dev/stderr): anywhere else it could be another user's.
 */
export function openForAppend(target: string, mode: number): number {
  const flags = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT;
  try {
    return openSync(target, flags | fsc.O_NOFOLLOW, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOOP' || !onlyRootChanges(path.dirname(target))) throw err;
    return openSync(target, flags, mode);
  }
}

function onlyRootChanges(dir: string): boolean {
  const st = statSync(dir);
  return st.uid === 0 && (st.mode & 0o022) === 0;
}
