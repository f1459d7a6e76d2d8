// The state store: one directory per container under the root directory,
// holding state.json (written atomically) and, while the container is
// `created`, the exec FIFO that `start` writes to. A flock on the container's
// directory serialises every command that changes the container.
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, unlinkSync, constants as fsc } from 'node:fs';
import path from 'node:path';
import { OciError, alreadyExists, notFound } from '../errors.js';
import { flock } from '../sys/libc.js';
import { replaceFile } from '../sys/caller-paths.js';
import { checkStateFile, type ContainerState } from './state-file.js';

export type { ContainerState } from './state-file.js';

export const DEFAULT_ROOT = '/run/ocirun';

// runc's rule: letters, digits and _ + - . ; not "." or "..".
const ID_PATTERN = /^[\w+.-]+$/;

export function validateId(id: string): void {
  if (!ID_PATTERN.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new OciError('invalid-id', `invalid container id ${JSON.stringify(id)}: use letters, digits and _ + - . only`);
  }
}

const MEMBER_MARK = 'member.';

/**
 * The state under --root drives what ocirun does as root (poststop hooks,
 * signals, cgroups to remove): a directory another user owns, or that group
 * or others can write, could hold their state. Checked on every command that
 * uses it; a --root that does not exist yet is made 0700 by create.
 */
export function checkRootDir(root: string): void {
  const st = statSync(root, { throwIfNoEntry: false });
  if (!st) return;
  const uid = process.geteuid!();
  if (st.uid !== 0 && st.uid !== uid) {
    throw new OciError('usage', `--root ${root}: owned by uid ${st.uid}, not by root or by ocirun's user (uid ${uid}): refusing state another user controls`);
  }
  if (st.mode & 0o022) {
    throw new OciError(
      'usage',
      `--root ${root}: mode ${(st.mode & 0o7777).toString(8)} lets group or others write it: refusing state another user could control (chmod go-w)`,
    );
  }
}

export class Store {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }
  fifoPath(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }
  /** Held open for writing by a created init until it execs; it writes why it failed, if it does. */
  statusFifoPath(id: string): string {
    return path.join(this.dir(id), 'status.fifo');
  }
  statePath(id: string): string {
    return path.join(this.dir(id), 'state.json');
  }
  /** In a container's directory: says that `member` joined its namespaces (see lifecycle/share.ts). */
  memberMarkPath(id: string, member: string): string {
    return path.join(this.dir(id), `${MEMBER_MARK}${member}`);
  }
  /** The containers whose marks are in this one's directory. */
  markedMembers(id: string): string[] {
    try {
      return readdirSync(this.dir(id))
        .filter((name) => name.startsWith(MEMBER_MARK))
        .map((name) => name.slice(MEMBER_MARK.length));
    } catch {
      return [];
    }
  }

  /**
   * Claims the id: mkdir is atomic, so of many concurrent creates of one id
   * exactly one succeeds. Returns the held lock.
   */
  claim(id: string): ContainerLock {
    validateId(id);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(this.dir(id), { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw alreadyExists(id);
      throw err;
    }
    const lock = new ContainerLock(this.dir(id));
    lock.acquire();
    return lock;
  }

  /** Locks an existing container; waits while another command holds it. */
  lock(id: string): ContainerLock {
    validateId(id);
    const lock = new ContainerLock(this.dir(id));
    try {
      lock.acquire();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw err;
    }
    return lock;
  }

  /** The state, or null for a directory whose create never finished. */
  read(id: string): ContainerState | null {
    validateId(id);
    let text: string;
    try {
      text = readFileSync(this.statePath(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (this.exists(id)) return null;
      throw notFound(id);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new OciError('state-corrupt', `${id}: state file ${this.statePath(id)} is not valid JSON (delete --force removes it)`);
    }
    const checked = checkStateFile(data);
    if ('badPath' in checked) {
      throw new OciError(
        'state-corrupt',
        `${id}: state file ${this.statePath(id)} is damaged at /${checked.badPath.join('/')}: Invalid input (delete --force removes it)`,
      );
    }
    return checked.state;
  }

  write(state: ContainerState): void {
    replaceFile(this.statePath(state.id), JSON.stringify(state), 0o600);
  }

  exists(id: string): boolean {
    try {
      closeSync(openSync(this.dir(id), fsc.O_RDONLY | fsc.O_DIRECTORY));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The directory holds only files; unlinking them by name skips the load of
   * Node's recursive rm (about 1 ms per delete and run). Anything else there
   * goes the general way.
   */
  remove(id: string): void {
    const dir = this.dir(id);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      for (const name of names) unlinkSync(path.join(dir, name));
      rmdirSync(dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}

export class ContainerLock {
  fd = -1;
  constructor(readonly dir: string) {}

  acquire(): void {
    this.fd = openSync(this.dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    flock(this.fd, true);
  }

  release(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
