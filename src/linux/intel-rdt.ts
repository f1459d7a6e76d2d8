// Intel RDT (linux.intelRdt, config-linux.md "IntelRdt"): the container's
// processes go into a resctrl group, closID or a group named after the
// container, whose schemata the config may set. Needs a mounted resctrl
// filesystem; without one, asking for it is an error at create time.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import type { ConfigProblem } from '../spec/validate.js';
import type { Spec } from '../spec/types.js';

export interface IntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  schemata?: string[];
  enableMonitoring?: boolean;
}

/** Where resctrl is mounted in this mount namespace, or null. */
export function resctrlMountPoint(): string | null {
  let mountinfo: string;
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] === 'resctrl') return before.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  }
  return null;
}

export function checkIntelRdt(config: Spec): ConfigProblem[] {
  const rdt = config.linux?.intelRdt as IntelRdt | undefined;
  if (!rdt) return [];
  const problems: ConfigProblem[] = [];
  if (rdt.closID !== undefined && rdt.closID !== '/' && (rdt.closID === '' || rdt.closID.includes('/') || rdt.closID === '.' || rdt.closID === '..')) {
    problems.push({ pointer: '/linux/intelRdt/closID', message: 'must be "/" or the name of one resctrl group (no "/")' });
  }
  if (resctrlMountPoint() === null) {
    problems.push({
      pointer: '/linux/intelRdt',
      message: 'no resctrl filesystem is mounted on this host (Intel RDT needs CPU support and e.g. `mount -t resctrl resctrl /sys/fs/resctrl`)',
    });
  }
  return problems;
}

function schemaLines(rdt: IntelRdt): string[] {
  return [rdt.l3CacheSchema, rdt.memBwSchema, ...(rdt.schemata ?? [])].filter((l): l is string => Boolean(l));
}

function groupDir(root: string, rdt: IntelRdt, id: string): string {
  return rdt.closID === '/' ? root : path.join(root, rdt.closID ?? id);
}

/**
 * In the runtime, once the init exists and before it runs anything of the
 * container: puts it in its resctrl group, creating and configuring the group
 * as config-linux.md says.
 */
export function joinIntelRdt(config: Spec, id: string, pid: number): void {
  const rdt = config.linux?.intelRdt as IntelRdt | undefined;
  if (!rdt) return;
  const root = resctrlMountPoint();
  if (root === null) throw new OciError('unsupported', 'linux.intelRdt: no resctrl filesystem is mounted');
  const dir = groupDir(root, rdt, id);
  const lines = schemaLines(rdt);
  const existed = existsSync(dir);
  if (!existed && rdt.closID !== undefined && lines.length === 0) {
    throw new OciError('invalid-config', `linux.intelRdt.closID: resctrl group ${dir} does not exist (and no schema is given to create it)`);
  }
  if (!existed) {
    try {
      mkdirSync(dir);
    } catch (err) {
      throw rdtError(`creating ${dir}`, err);
    }
  }
  if (lines.length > 0) {
    if (existed && rdt.closID !== undefined) {
      const current = readFileSync(path.join(dir, 'schemata'), 'utf8').split('\n').map(normalizeSchema);
      const differing = lines.filter((l) => !current.includes(normalizeSchema(l)));
      if (differing.length > 0) {
        throw new OciError('invalid-config', `linux.intelRdt: resctrl group ${dir} exists with other schemata than ${differing.join(', ')}`);
      }
    } else {
      for (const line of lines) {
        try {
          writeFileSync(path.join(dir, 'schemata'), `${line}\n`);
        } catch (err) {
          throw rdtError(`writing ${JSON.stringify(line)} to ${dir}/schemata`, err);
        }
      }
    }
  }
  addToGroup(rdt, dir, id, pid);
}

function addToGroup(rdt: IntelRdt, dir: string, id: string, pid: number): void {
  try {
    writeFileSync(path.join(dir, 'tasks'), String(pid));
  } catch (err) {
    throw rdtError(`adding ${pid} to ${dir}/tasks`, err);
  }
  if (rdt.enableMonitoring) {
    const mon = path.join(dir, 'mon_groups', id);
    try {
      if (!existsSync(mon)) mkdirSync(mon);
      writeFileSync(path.join(mon, 'tasks'), String(pid));
    } catch (err) {
      throw rdtError(`monitoring group ${mon}`, err);
    }
  }
}

function rdtError(what: string, err: unknown): OciError {
  return wrap(err, `linux.intelRdt: ${what}`, { code: 'system', errnoOnly: true });
}

/**
 * In the runtime, for a process exec'd into the container, before it is let
 * go: the container's resctrl group (and monitoring group), as the init's.
 * Its children inherit the group. `root` is where resctrl is mounted.
 */
export function joinIntelRdtForExec(config: Spec, id: string, pid: number, root = resctrlMountPoint()): void {
  const rdt = config.linux?.intelRdt as IntelRdt | undefined;
  if (!rdt) return;
  if (root === null) throw new OciError('unsupported', 'linux.intelRdt: no resctrl filesystem is mounted');
  const dir = groupDir(root, rdt, id);
  if (!existsSync(dir)) throw new OciError('system', `linux.intelRdt: the container's resctrl group ${dir} is gone`);
  addToGroup(rdt, dir, id, pid);
}

/** "L3:0=7ff;1=7ff" and "L3: 0=07ff; 1=7ff" are the same schema. */
function normalizeSchema(line: string): string {
  const [name, rest = ''] = line.split(':');
  const entries = rest
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const [dom, value = ''] = e.split('=');
      return `${dom.trim()}=${value
        .trim()
        .replace(/^0+(?=.)/, '')
        .toLowerCase()}`;
    });
  return `${name.trim()}:${entries.join(';')}`;
}

/** At delete, once the container's processes are gone: the groups ocirun made for it. */
export function leaveIntelRdt(config: Spec, id: string): void {
  const rdt = config.linux?.intelRdt as IntelRdt | undefined;
  const root = rdt ? resctrlMountPoint() : null;
  if (!rdt || root === null) return;
  const dir = groupDir(root, rdt, id);
  const remove = (d: string) => {
    try {
      rmdirSync(d);
    } catch {
      // already gone, or not ours to remove
    }
  };
  if (rdt.enableMonitoring) remove(path.join(dir, 'mon_groups', id));
  if (rdt.closID === undefined) remove(dir);
}
