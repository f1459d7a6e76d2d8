// Container statistics in the JSON that `runc events` prints (runc's
// types/events.go field names), so tools that read runc's events read ours.
// Counters can exceed 2^53 (an unlimited v1 memory limit is 2^63 - 4096), so
// values that do are kept as bigint and printed as exact digits.

export type Num = number | bigint;

export interface MemoryEntry {
  limit: Num;
  usage?: Num;
  max?: Num;
  failcnt: Num;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: Num;
}

export interface Stats {
  cpu: {
    usage: { total?: Num; percpu?: Num[]; percpu_kernel?: Num[]; percpu_user?: Num[]; kernel: Num; user: Num };
    throttling: { periods?: Num; throttledPeriods?: Num; throttledTime?: Num };
  };
  cpuset: {
    cpus?: number[];
    cpu_exclusive: Num;
    mems?: number[];
    mem_hardwall: Num;
    mem_exclusive: Num;
    memory_migrate: Num;
    memory_spread_page: Num;
    memory_spread_slab: Num;
    memory_pressure: Num;
    sched_load_balance: Num;
    sched_relax_domain_level: Num;
  };
  memory: {
    cache?: Num;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, Num>;
  };
  pids: { current?: Num; limit?: Num };
  blkio: {
    ioServiceBytesRecursive?: BlkioEntry[];
    ioServicedRecursive?: BlkioEntry[];
    ioQueueRecursive?: BlkioEntry[];
    ioServiceTimeRecursive?: BlkioEntry[];
    ioWaitTimeRecursive?: BlkioEntry[];
    ioMergedRecursive?: BlkioEntry[];
    ioTimeRecursive?: BlkioEntry[];
    sectorsRecursive?: BlkioEntry[];
  };
  hugetlb: Record<string, { usage?: Num; max?: Num; failcnt: Num }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

/** A decimal string as a number, or a bigint when a number would round it. */
export function num(text: string | undefined | null): Num {
  if (text === undefined || text === null) return 0;
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return 0;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

export const MAX_UINT64 = 18446744073709551615n;

/** "key value" lines (memory.stat) with exact values: one past 2^53 stays a bigint. */
export function parseStatLines(text: string | null): Record<string, Num> {
  const values: Record<string, Num> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined) values[key] = num(value);
  }
  return values;
}

export function add(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number' && Number.isSafeInteger(a + b)) return a + b;
  const sum = BigInt(a) + BigInt(b);
  return sum <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sum) : sum;
}

export function mul(a: Num, b: number): Num {
  if (typeof a === 'number' && Number.isSafeInteger(a * b)) return a * b;
  return BigInt(a) * BigInt(b);
}

export function isZero(v: Num | undefined): boolean {
  return v === undefined || v === 0 || v === 0n;
}

/** Drops the keys whose value is zero or an empty list (Go's `omitempty`). */
export function omitEmpty<T extends object>(o: T, keys: (keyof T)[]): T {
  const out = { ...o };
  for (const k of keys) {
    const v = out[k] as unknown;
    if (v === undefined || isZero(v as Num) || (Array.isArray(v) && v.length === 0)) delete out[k];
  }
  return out;
}

/** Keys in byte order, as Go prints a map. */
export function sortKeys<V>(o: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** JSON with bigints printed as their exact digits. */
export function toJson(value: unknown): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${marker}${v.toString()}` : v));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/** "0-2,4" → [0, 1, 2, 4] */
export function expandList(text: string | null): number[] {
  if (!text) return [];
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

export function emptyStats(): Stats {
  const entry = (): MemoryEntry => ({ limit: 0, failcnt: 0 });
  return {
    cpu: { usage: { kernel: 0, user: 0 }, throttling: {} },
    cpuset: {
      cpu_exclusive: 0,
      mem_hardwall: 0,
      mem_exclusive: 0,
      memory_migrate: 0,
      memory_spread_page: 0,
      memory_spread_slab: 0,
      memory_pressure: 0,
      sched_load_balance: 0,
      sched_relax_domain_level: 0,
    },
    memory: { usage: entry(), swap: entry(), kernel: entry(), kernelTCP: entry() },
    pids: {},
    blkio: {},
    hugetlb: {},
    intel_rdt: {},
    network_interfaces: null,
  };
}
