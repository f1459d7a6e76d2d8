// `update`: new resource limits for a created, running or paused container,
// from runc's flags or, with -r FILE (or -r - for stdin), from a JSON
// LinuxResources (then the flags are ignored, as runc ignores them).
import { readFileSync } from 'node:fs';
import { parseBytes, parseInteger } from './units.js';
import { wrap } from '../errors.js';
import type { Globals } from './globals.js';
import { updateContainer } from '../lifecycle/resources.js';
import { storeFor } from './options.js';

function readResources(source: string): unknown {
  let text: string;
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (err) {
    throw wrap(err, `--resources: cannot read ${source === '-' ? 'the standard input' : source}`, { code: 'usage', errnoOnly: true });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw wrap(err, `--resources: ${source === '-' ? 'the standard input' : source} is not valid JSON`, { code: 'usage' });
  }
}

/** The flags that were given, as LinuxResources. 0 means "not set" for the counts and periods, as with runc. */
export function resourcesFromFlags(o: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const r: Record<string, Record<string, unknown>> = {};
  const put = (section: string, key: string, value: unknown) => {
    if (value === undefined) return;
    r[section] ??= {};
    r[section][key] = value;
  };
  const bytes = (name: string, flag: string) => (o[name] === undefined ? undefined : parseBytes(String(o[name]), flag));
  const count = (name: string, flag: string, min = 0) => {
    if (o[name] === undefined) return undefined;
    const n = parseInteger(String(o[name]), flag, { min });
    return n === 0 ? undefined : n;
  };
  put('memory', 'limit', bytes('memory', '--memory'));
  put('memory', 'reservation', bytes('memoryReservation', '--memory-reservation'));
  put('memory', 'swap', bytes('memorySwap', '--memory-swap'));
  put('memory', 'kernel', bytes('kernelMemory', '--kernel-memory'));
  put('memory', 'kernelTCP', bytes('kernelMemoryTcp', '--kernel-memory-tcp'));
  put('cpu', 'shares', count('cpuShare', '--cpu-share') ?? count('cpuShares', '--cpu-shares'));
  put('cpu', 'quota', count('cpuQuota', '--cpu-quota', -1));
  put('cpu', 'period', count('cpuPeriod', '--cpu-period'));
  put('cpu', 'realtimePeriod', count('cpuRtPeriod', '--cpu-rt-period'));
  put('cpu', 'realtimeRuntime', count('cpuRtRuntime', '--cpu-rt-runtime', -1));
  if (o.cpusetCpus !== undefined) put('cpu', 'cpus', String(o.cpusetCpus));
  if (o.cpusetMems !== undefined) put('cpu', 'mems', String(o.cpusetMems));
  if (o.cpuIdle !== undefined) put('cpu', 'idle', parseInteger(String(o.cpuIdle), '--cpu-idle', { min: 0 }));
  put('pids', 'limit', count('pidsLimit', '--pids-limit', -1));
  put('blockIO', 'weight', count('blkioWeight', '--blkio-weight'));
  return r;
}

export default function update(globals: Globals, args: string[], o: Record<string, unknown>): number {
  const resources = o.resources !== undefined ? readResources(String(o.resources)) : resourcesFromFlags(o);
  updateContainer(storeFor(globals), args[0], resources);
  return 0;
}
