// Checks of linux.resources that do not depend on the host: types (for
// `update -r`, whose input no schema has seen), ranges, and rules between
// fields. Every problem is one line naming the field; all are reported at once.
import { OciError } from '../errors.js';
import type { LinuxResources } from './types.js';

const PREFIX = 'linux.resources';

type Problems = string[];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkInt(problems: Problems, value: unknown, field: string, min: number, max: number, rule: string): value is number {
  if (value === undefined) return false;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    problems.push(`${field}: ${JSON.stringify(value)} is not an integer`);
    return false;
  }
  if (value < min || value > max) {
    problems.push(`${field}: ${value} is out of range (${rule})`);
    return false;
  }
  return true;
}

const INT64_MAX = 2 ** 63;
const UINT32_MAX = 2 ** 32 - 1;

/** "0-3,5" style lists (cpuset(7) "List format"). */
export function checkCpuList(text: string): string | null {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) return 'is not a list such as "0-3,5"';
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (b !== undefined && b < a) return `has a descending range ${part}`;
  }
  return null;
}

function checkMemory(p: Problems, m: unknown, f: string): void {
  if (!isObject(m)) return void p.push(`${f}: must be an object`);
  for (const key of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP']) {
    checkInt(p, m[key], `${f}.${key}`, -1, INT64_MAX, 'bytes, or -1 for no limit');
  }
  const limit = m.limit as number | undefined;
  const swap = m.swap as number | undefined;
  if (typeof limit === 'number' && typeof swap === 'number' && limit > 0 && swap > 0 && swap < limit) {
    p.push(`${f}.swap: ${swap} is below memory.limit ${limit} (swap is the memory+swap total, so it cannot be lower than the limit)`);
  }
  checkInt(p, m.swappiness, `${f}.swappiness`, 0, 100, '0 to 100');
  for (const key of ['disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) {
    if (m[key] !== undefined && typeof m[key] !== 'boolean') p.push(`${f}.${key}: must be true or false`);
  }
}

function checkCpu(p: Problems, c: unknown, f: string): void {
  if (!isObject(c)) return void p.push(`${f}: must be an object`);
  const shares = c.shares;
  if (shares !== 0) checkInt(p, shares, `${f}.shares`, 2, 262144, '2 to 262144');
  const quota = c.quota;
  if (quota !== undefined && quota !== -1 && quota !== 0) {
    checkInt(p, quota, `${f}.quota`, 1000, INT64_MAX, 'microseconds, at least 1000, or -1 for no limit');
  }
  checkInt(p, c.period, `${f}.period`, 1000, 1_000_000, 'microseconds, 1000 to 1000000');
  if (checkInt(p, c.burst, `${f}.burst`, 0, INT64_MAX, 'microseconds') && typeof quota === 'number' && quota > 0 && (c.burst as number) > quota) {
    p.push(`${f}.burst: ${c.burst as number} is larger than quota ${quota}`);
  }
  const rtRuntimeOk = checkInt(p, c.realtimeRuntime, `${f}.realtimeRuntime`, -1, INT64_MAX, 'microseconds, or -1 for no limit');
  const rtPeriodOk = checkInt(p, c.realtimePeriod, `${f}.realtimePeriod`, 1, INT64_MAX, 'microseconds, at least 1');
  if (rtRuntimeOk && rtPeriodOk && (c.realtimeRuntime as number) > (c.realtimePeriod as number)) {
    p.push(`${f}.realtimeRuntime: ${c.realtimeRuntime as number} is longer than realtimePeriod ${c.realtimePeriod as number}`);
  }
  for (const key of ['cpus', 'mems']) {
    const v = c[key];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') p.push(`${f}.${key}: must be a string such as "0-3,5"`);
    else {
      const problem = checkCpuList(v);
      if (problem) p.push(`${f}.${key}: ${JSON.stringify(v)} ${problem}`);
    }
  }
  checkInt(p, c.idle, `${f}.idle`, 0, 1, '0, or 1 for SCHED_IDLE');
}

function checkDevice(p: Problems, d: unknown, f: string): void {
  if (!isObject(d)) return void p.push(`${f}: must be an object`);
  for (const key of ['major', 'minor']) {
    if (d[key] === undefined) p.push(`${f}.${key}: is required`);
    else checkInt(p, d[key], `${f}.${key}`, 0, UINT32_MAX, 'a device number');
  }
}

function checkBlockIO(p: Problems, b: unknown, f: string): void {
  if (!isObject(b)) return void p.push(`${f}: must be an object`);
  checkInt(p, b.weight, `${f}.weight`, 10, 1000, '10 to 1000');
  checkInt(p, b.leafWeight, `${f}.leafWeight`, 10, 1000, '10 to 1000');
  if (b.weightDevice !== undefined) {
    if (!Array.isArray(b.weightDevice)) p.push(`${f}.weightDevice: must be an array`);
    else
      b.weightDevice.forEach((d: unknown, i) => {
        const g = `${f}.weightDevice[${i}]`;
        checkDevice(p, d, g);
        if (!isObject(d)) return;
        checkInt(p, d.weight, `${g}.weight`, 10, 1000, '10 to 1000');
        checkInt(p, d.leafWeight, `${g}.leafWeight`, 10, 1000, '10 to 1000');
        if (d.weight === undefined && d.leafWeight === undefined) p.push(`${g}: needs weight or leafWeight`);
      });
  }
  for (const key of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice']) {
    const list = b[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      p.push(`${f}.${key}: must be an array`);
      continue;
    }
    list.forEach((d: unknown, i) => {
      const g = `${f}.${key}[${i}]`;
      checkDevice(p, d, g);
      if (!isObject(d)) return;
      if (d.rate === undefined) p.push(`${g}.rate: is required`);
      else checkInt(p, d.rate, `${g}.rate`, 0, INT64_MAX, key.includes('Bps') ? 'bytes per second' : 'operations per second');
    });
  }
}

function checkDeviceRules(p: Problems, rules: unknown, f: string): void {
  if (!Array.isArray(rules)) return void p.push(`${f}: must be an array`);
  rules.forEach((r: unknown, i) => {
    const g = `${f}[${i}]`;
    if (!isObject(r)) return void p.push(`${g}: must be an object`);
    if (typeof r.allow !== 'boolean') p.push(`${g}.allow: must be true or false`);
    if (r.type !== undefined && !['a', 'b', 'c'].includes(r.type as string)) {
      p.push(`${g}.type: ${JSON.stringify(r.type)} is not a (all), b (block) or c (char)`);
    }
    for (const key of ['major', 'minor']) checkInt(p, r[key], `${g}.${key}`, -1, UINT32_MAX, 'a device number, or -1 for all');
    if (r.access !== undefined && (typeof r.access !== 'string' || !/^[rwm]+$/.test(r.access))) {
      p.push(`${g}.access: ${JSON.stringify(r.access)} must be a non-empty combination of r, w and m`);
    }
  });
}

function checkHugepages(p: Problems, list: unknown, f: string): void {
  if (!Array.isArray(list)) return void p.push(`${f}: must be an array`);
  const seen = new Set<string>();
  list.forEach((h: unknown, i) => {
    const g = `${f}[${i}]`;
    if (!isObject(h)) return void p.push(`${g}: must be an object`);
    if (typeof h.pageSize !== 'string' || !/^\d+[KMGTPE]?B$/.test(h.pageSize)) {
      p.push(`${g}.pageSize: ${JSON.stringify(h.pageSize)} is not a size such as "2MB" or "1GB"`);
    } else if (seen.has(h.pageSize)) p.push(`${g}.pageSize: ${h.pageSize} is listed twice`);
    else seen.add(h.pageSize);
    if (h.limit === undefined) p.push(`${g}.limit: is required`);
    else checkInt(p, h.limit, `${g}.limit`, 0, INT64_MAX, 'bytes');
  });
}

function checkNetwork(p: Problems, n: unknown, f: string): void {
  if (!isObject(n)) return void p.push(`${f}: must be an object`);
  checkInt(p, n.classID, `${f}.classID`, 0, UINT32_MAX, 'a 32-bit class id');
  if (n.priorities === undefined) return;
  if (!Array.isArray(n.priorities)) return void p.push(`${f}.priorities: must be an array`);
  n.priorities.forEach((e: unknown, i) => {
    const g = `${f}.priorities[${i}]`;
    if (!isObject(e)) return void p.push(`${g}: must be an object`);
    if (typeof e.name !== 'string' || !/^[^\s/]+$/.test(e.name)) p.push(`${g}.name: ${JSON.stringify(e.name)} is not an interface name`);
    if (e.priority === undefined) p.push(`${g}.priority: is required`);
    else checkInt(p, e.priority, `${g}.priority`, 0, UINT32_MAX, 'a 32-bit priority');
  });
}

function checkRdma(p: Problems, r: unknown, f: string): void {
  if (!isObject(r)) return void p.push(`${f}: must be an object`);
  for (const [device, limits] of Object.entries(r)) {
    const g = `${f}.${device}`;
    if (!/^[^\s=]+$/.test(device)) p.push(`${g}: ${JSON.stringify(device)} is not a device name`);
    if (!isObject(limits)) {
      p.push(`${g}: must be an object`);
      continue;
    }
    checkInt(p, limits.hcaHandles, `${g}.hcaHandles`, 0, UINT32_MAX, 'a count');
    checkInt(p, limits.hcaObjects, `${g}.hcaObjects`, 0, UINT32_MAX, 'a count');
    if (limits.hcaHandles === undefined && limits.hcaObjects === undefined) p.push(`${g}: needs hcaHandles or hcaObjects`);
  }
}

function checkUnified(p: Problems, u: unknown, f: string): void {
  if (!isObject(u)) return void p.push(`${f}: must be an object of file names and values`);
  for (const [key, value] of Object.entries(u)) {
    const g = `${f}[${JSON.stringify(key)}]`;
    if (!/^[a-z0-9_]+\.[A-Za-z0-9_.]+$/.test(key)) {
      p.push(`${g}: must be the name of a file in the container's cgroup, "<controller>.<name>" (no "/")`);
    } else if (key === 'cgroup.procs' || key === 'cgroup.threads' || key === 'cgroup.subtree_control') {
      p.push(`${g}: the runtime manages ${key} itself`);
    }
    if (typeof value !== 'string') p.push(`${g}: the value must be a string`);
  }
}

/** Throws one OciError listing every problem; `where` prefixes each field (default linux.resources). */
export function validateResources(resources: unknown, where = PREFIX): asserts resources is LinuxResources {
  const p: Problems = [];
  if (!isObject(resources)) p.push(`${where}: must be an object`);
  else {
    const r = resources;
    if (r.devices !== undefined) checkDeviceRules(p, r.devices, `${where}.devices`);
    if (r.memory !== undefined) checkMemory(p, r.memory, `${where}.memory`);
    if (r.cpu !== undefined) checkCpu(p, r.cpu, `${where}.cpu`);
    if (r.pids !== undefined) {
      if (!isObject(r.pids)) p.push(`${where}.pids: must be an object`);
      else if (r.pids.limit === undefined) p.push(`${where}.pids.limit: is required`);
      else checkInt(p, r.pids.limit, `${where}.pids.limit`, -1, INT64_MAX, 'a number of tasks, or -1 for no limit');
    }
    if (r.blockIO !== undefined) checkBlockIO(p, r.blockIO, `${where}.blockIO`);
    if (r.hugepageLimits !== undefined) checkHugepages(p, r.hugepageLimits, `${where}.hugepageLimits`);
    if (r.network !== undefined) checkNetwork(p, r.network, `${where}.network`);
    if (r.rdma !== undefined) checkRdma(p, r.rdma, `${where}.rdma`);
    if (r.unified !== undefined) checkUnified(p, r.unified, `${where}.unified`);
  }
  if (p.length > 0) throw new OciError('invalid-config', p[0], p.slice(1));
}

/** Bytes of a hugepage size name: "2MB" → 2097152 (the spec's units are powers of 1024). */
export function pageSizeBytes(name: string): number {
  const m = /^(\d+)([KMGTPE]?)B$/.exec(name);
  if (!m) return NaN;
  return Number(m[1]) * 1024 ** ' KMGTPE'.indexOf(m[2] || ' ');
}
