// Pieces both filesystem drivers share: making directories (remembering which
// were made, so a failed create removes only those), the conversions of
// runc's units, the checks a create makes on a cgroup it did not make, the
// limits whose files v1 and v2 write alike (pids, hugetlb, rdma), and the
// wait for a freeze.
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import { sleepMs } from '../sys/proc.js';
import { fileExists, procsRecursive, readNumber, writeFile } from './files.js';
import type { LinuxResources } from './types.js';

const F = 'linux.resources';

/**
 * mkdir -p of `dir`, stopping at `top` (which must exist). Returns the
 * directories made, outermost first: `dir` is among them unless it was there
 * already. The leaf is tried first, so a cgroup whose parent exists (the
 * usual case) costs one mkdir.
 */
export function makeDirs(dir: string, top: string): string[] {
  const rel = path.relative(top, dir);
  if (rel === '') return [];
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new OciError('internal', `internal error: ${dir} is not under ${top}`);
  const first = makeDir(dir);
  if (first !== 'no parent') return first === 'made' ? [dir] : [];
  const made = makeDirs(path.dirname(dir), top);
  const second = makeDir(dir);
  if (second === 'no parent') throw new OciError('system', `cannot create cgroup ${dir}: ENOENT`);
  return second === 'made' ? [...made, dir] : made;
}

function makeDir(dir: string): 'made' | 'there' | 'no parent' {
  try {
    mkdirSync(dir, { mode: 0o755 });
    return 'made';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      // A cgroup named like one of its parent's files (a container called "tasks").
      if (!statSync(dir).isDirectory()) throw new OciError('invalid-config', `linux.cgroupsPath: ${dir} is a file of the parent cgroup, not a cgroup`);
      return 'there';
    }
    if (code === 'ENOENT') return 'no parent';
    throw wrap(err, `cannot create cgroup ${dir}`, { code: 'system', errnoOnly: true });
  }
}

/** runtime-spec: a create may refuse a cgroup that is not fit for a new container. */
export function refuseBusyCgroup(dir: string): void {
  const pids = procsRecursive(dir);
  if (pids.length > 0) {
    throw new OciError(
      'invalid-config',
      `linux.cgroupsPath: cgroup ${dir} already has processes (${pids.slice(0, 10).join(' ')}${pids.length > 10 ? ' ...' : ''}): a new container needs an empty cgroup`,
    );
  }
}

/** runc's conversion of cgroup v1 cpu.shares (2..262144) to v2 cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.trunc(((shares - 2) * 9999) / 262142);
}

/** runc's conversion of a v1 blkio weight (10..1000) to v2 io.weight (1..10000). */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.trunc(((weight - 10) * 9999) / 990);
}

/**
 * cgroup v2's swap-only limit (memory.swap.max, systemd's MemorySwapMax) for
 * the spec's memory.swap, which is the memory+swap total of cgroup v1,
 * converted as runc converts it: swap − memory; -1 is no limit; and no limit
 * on memory with no swap setting is no limit on swap either. undefined:
 * nothing to set. `memory` is the memory limit in force (-1: none).
 */
export function swapOnlyLimit(swap: number | undefined, memory: number | undefined, field: string): number | undefined {
  const unset = swap === undefined || swap === 0;
  if (memory === -1 && unset) return -1;
  if (unset) return undefined;
  if (swap === -1) return -1;
  if (memory === undefined || memory <= 0) throw new OciError('invalid-config', `${field}: a memory+swap limit needs a memory limit (memory.limit)`);
  if (swap! < memory) throw new OciError('invalid-config', `${field}: ${swap} is below memory.limit ${memory} (swap is the memory+swap total)`);
  return swap! - memory;
}

/** An int64 setting as the kernel reads it: exact digits (JSON numbers above 2^53 are not exact anyway). */
export function int(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(Math.trunc(n)).toString();
}

/**
 * pids.max for linux.resources.pids.limit: -1 is "max", and 0 is a limit of
 * its own (config-linux.md: "0 is a valid limit value for the pids cgroup
 * controller from the kernel's perspective and SHOULD be treated as such"):
 * the processes already in the cgroup stay, none can fork.
 */
export function pidsMax(limit: number): string {
  return limit < 0 ? 'max' : int(limit);
}

/** The directory of `controller`'s cgroup, or an error naming `field` when the host lacks it. */
export type DirFor = (controller: string, field: string) => string;

export function writePidsLimit(r: LinuxResources, dirFor: DirFor): void {
  if (r.pids) writeFile(dirFor('pids', `${F}.pids.limit`), 'pids.max', pidsMax(r.pids.limit), `${F}.pids.limit`);
}

/**
 * hugetlb.<size>.<limitFile> for each limit (v1: limit_in_bytes, v2: max),
 * and the reservation limit beside it where the kernel has one (Linux 5.7+),
 * which the kernel charges at mmap time rather than at fault.
 */
export function writeHugepageLimits(r: LinuxResources, dirFor: DirFor, limitFile: string): void {
  r.hugepageLimits?.forEach((h, i) => {
    const field = `${F}.hugepageLimits[${i}]`;
    const d = dirFor('hugetlb', field);
    const file = `hugetlb.${h.pageSize}.${limitFile}`;
    if (!fileExists(d, file)) throw new OciError('unsupported', `${field}.pageSize: this kernel has no ${h.pageSize} huge pages (no ${file} in ${d})`);
    writeFile(d, file, int(h.limit), `${field}.limit`);
    const reservation = `hugetlb.${h.pageSize}.rsvd.${limitFile}`;
    if (fileExists(d, reservation)) writeFile(d, reservation, int(h.limit), `${field}.limit`);
  });
}

/** rdma.max, one line per device; a count not given is "max". */
export function writeRdmaLimits(r: LinuxResources, dirFor: DirFor): void {
  const count = (n?: number) => (n === undefined ? 'max' : String(n));
  for (const [device, l] of Object.entries(r.rdma ?? {})) {
    writeFile(dirFor('rdma', `${F}.rdma`), 'rdma.max', `${device} hca_handle=${count(l.hcaHandles)} hca_object=${count(l.hcaObjects)}`, `${F}.rdma.${device}`);
  }
}

/**
 * Polls `frozen(attempt)` every `pollMs` for up to 5 s. Past that, `thaw()`
 * and fail: a task in an uninterruptible sleep can hold a freeze off for
 * ever, and a container left half frozen would be neither paused nor running.
 */
export function awaitFrozen(dir: string, frozen: (attempt: number) => boolean, thaw: () => void, pollMs: number): void {
  const deadline = Date.now() + 5000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    if (frozen(attempt)) return;
    sleepMs(pollMs);
  }
  thaw();
  throw new OciError('system', `pause: the processes in ${dir} did not all stop within 5 s; left running`);
}

/**
 * memory.checkBeforeUpdate (config-linux.md): an update that would set the
 * limit below what the cgroup uses now (`usageFile`: memory.current on v2,
 * memory.usage_in_bytes on v1, page cache included) fails before anything
 * is written, where the kernel would reclaim to fit, refuse only what it
 * cannot reclaim (v1: EBUSY), or kill (v2).
 */
export function checkLimitNotBelowUsage(limit: number, dir: string, usageFile: string): void {
  if (limit <= 0) return;
  const usage = readNumber(dir, usageFile);
  if (limit < usage) throw new OciError('invalid-config', `${F}.memory.limit: ${limit} is below the current usage ${usage} (checkBeforeUpdate)`);
}
