import { readFileSync, readlinkSync, readdirSync } from 'node:fs';

export interface ProcStat {
  state: string;
  ppid: number;
  startTime: number;
}

/** /proc/<pid>/stat, or null when the process is gone. See proc(5). */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const field = statFields(text);
  return { state: field(3), ppid: Number(field(4)), startTime: Number(field(22)) };
}

/** The fields of a /proc/<pid>/stat text by their number in proc(5). */
function statFields(text: string): (n: number) => string {
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (n) => fields[n - 3];
}

let ownLayout: ((n: number) => string) | undefined;
/**
 * A field of this process's /proc/self/stat, read once: for its memory
 * layout only (fields 26-28 and 45-51), which execve sets and nothing moves
 * after (the current brk, which does move, is not among them).
 */
export function ownLayoutField(n: number): string {
  ownLayout ??= statFields(readFileSync('/proc/self/stat', 'latin1'));
  return ownLayout(n);
}

/** True when pid is alive, not a zombie, and is the process that started at startTime. */
export function isSameLiveProcess(pid: number, startTime: number): boolean {
  if (pid <= 0) return false;
  const stat = readProcStat(pid);
  return stat !== null && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

export function namespaceId(pid: number | 'self', type: string): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/${type}`);
  } catch {
    return null;
  }
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57)
    .map(Number);
}

/** Every process whose pid namespace is `pidNs` (e.g. "pid:[4026532181]"). */
export function pidsInPidNamespace(pidNs: string): number[] {
  return allPids().filter((pid) => namespaceId(pid, 'pid') === pidNs);
}

/** Processes with an open fd on `file` (found through /proc/<pid>/fd links). */
export function processesHoldingFile(file: string): number[] {
  return allPids().filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

/** Blocks this thread for `ms` (a synchronous CLI has nothing else to do meanwhile). */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
