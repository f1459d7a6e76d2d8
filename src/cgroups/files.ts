// Reading and writing cgroup interface files. A write that fails names the
// config field it came from, the file and the value, so the error says what to
// change. Files are never created: on a real cgroupfs they exist or the
// feature is missing, and in tests the fake tree holds exactly the files a
// kernel would have.
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmdirSync, writeSync, constants as fsc } from 'node:fs';
import path from 'node:path';
import { OciError, errnoOf, wrap } from '../errors.js';
import { sleepMs } from '../sys/proc.js';

export function fileExists(dir: string, file: string): boolean {
  return existsSync(path.join(dir, file));
}

export function readText(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), 'utf8');
}

/** The file's text without its trailing newline, or null when it cannot be read. */
export function tryRead(dir: string, file: string): string | null {
  try {
    return readText(dir, file).trimEnd();
  } catch {
    return null;
  }
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, ...) as numbers. */
export function readKeyValues(dir: string, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  const text = tryRead(dir, file);
  if (text === null) return out;
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^-?\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

/** A number from a one-value file; "max" is `max`, unreadable is 0. */
export function readNumber(dir: string, file: string, max = Number.MAX_SAFE_INTEGER): number {
  const text = tryRead(dir, file);
  if (text === null || text === '') return 0;
  if (text === 'max') return max;
  const n = Number(text.split(/\s+/)[0]);
  return Number.isFinite(n) ? n : 0;
}

const HINTS: Record<string, string> = {
  EINVAL: 'the kernel rejected the value',
  EBUSY: 'the kernel refused it while the cgroup is in use (e.g. a memory limit below the current usage)',
  EPERM: 'not permitted',
  EACCES: 'not permitted',
  ENOSPC: 'no CPUs or memory nodes are left for the cgroup',
  EOPNOTSUPP: 'not supported by this kernel',
  ENOTSUP: 'not supported by this kernel',
  ERANGE: 'value out of range',
  ENODEV: 'no such device',
  ENOENT: 'the file does not exist: not supported by this kernel or controller',
};

/**
 * Writes `value` in one write(2), as the kernel expects for cgroup files.
 * `field` names the setting in config terms ("linux.resources.memory.limit").
 */
export function writeFile(dir: string, file: string, value: string, field: string): void {
  const fd = openForWriting(dir, file, field, value);
  try {
    writeToOpened(fd, value, path.join(dir, file), field);
  } finally {
    closeSync(fd);
  }
}

/** A cgroup file opened for writeToOpened (close-on-exec). */
export function openForWriting(dir: string, file: string, field: string, value = ''): number {
  const target = path.join(dir, file);
  try {
    return openSync(target, fsc.O_WRONLY | fsc.O_TRUNC | 0o2000000 /* O_CLOEXEC */);
  } catch (err) {
    throw writeError(err, target, value, field);
  }
}

export function writeToOpened(fd: number, value: string, target: string, field: string): void {
  try {
    writeSync(fd, value);
  } catch (err) {
    throw writeError(err, target, value, field);
  }
  observer?.(target, value);
}

let observer: ((file: string, value: string) => void) | undefined;

/** Tests watch every write: a file of a fake cgroupfs keeps only the last one, a kernel file acts on each. */
export function observeWrites(fn?: (file: string, value: string) => void): void {
  observer = fn;
}

function writeError(err: unknown, target: string, value: string, field: string): OciError {
  const code = errnoOf(err) ?? '';
  const hint = HINTS[code] ? ` (${HINTS[code]})` : '';
  return wrap(err, `${field}: cannot write ${JSON.stringify(value)} to ${target}`, {
    code: code === 'ENOENT' ? 'unsupported' : 'system',
    errnoOnly: true,
    hint,
  });
}

/** Processes listed in cgroup.procs of `dir` and of every cgroup below it. */
export function procsRecursive(dir: string): number[] {
  const pids = new Set<number>();
  const walk = (d: string) => {
    const text = tryRead(d, 'cgroup.procs');
    if (text === null) return;
    for (const line of text.split('\n')) if (line) pids.add(Number(line));
    for (const sub of subdirectories(d)) walk(path.join(d, sub));
  };
  walk(dir);
  return [...pids].sort((a, b) => a - b);
}

export function subdirectories(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * rmdir(2) of a cgroup and, first, the cgroups under it. The kernel refuses
 * (EBUSY) while it still counts tasks, which lasts a moment after the last
 * process died: retry until `deadline`.
 */
export function removeCgroupDir(dir: string, deadline: number): void {
  // Sub-cgroups are looked for only once rmdir refuses (EBUSY; ENOTEMPTY from
  // a plain directory, as in tests): most cgroups have none.
  let emptied = false;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if ((code === 'EBUSY' || code === 'ENOTEMPTY') && !emptied) {
        emptied = true;
        for (const sub of subdirectories(dir)) removeCgroupDir(path.join(dir, sub), deadline);
        continue;
      }
      if (code !== 'EBUSY' || Date.now() > deadline) {
        const procs = tryRead(dir, 'cgroup.procs');
        const still = procs ? ` (processes still in it: ${procs.split('\n').join(' ')})` : '';
        throw wrap(err, `cannot remove cgroup ${dir}`, { code: 'system', errnoOnly: true, hint: still });
      }
      sleepMs(delay);
    }
  }
}

/** removeCgroupDir of each of `dirs` in turn, under one deadline; throws the first failure once all were tried. */
export function removeCgroupDirs(dirs: Iterable<string>): void {
  const deadline = Date.now() + 5000;
  let first: unknown;
  for (const dir of dirs) {
    try {
      removeCgroupDir(dir, deadline);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}
