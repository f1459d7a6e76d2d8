// Where a container's cgroup goes: linux.cgroupsPath read the way runc reads
// it. Absolute paths are taken from each hierarchy's root; relative ones (and
// the default, the container id) from the runtime's own cgroup. With
// --systemd-cgroup the path is "slice:prefix:name", e.g.
// "system.slice:docker:abc" → /system.slice/docker-abc.scope.
import path from 'node:path';
import { OciError } from '../errors.js';
import { directoryOf, type CgroupHost } from './host.js';
import { UNIFIED } from './types.js';

const invalid = (message: string) => new OciError('invalid-config', `linux.cgroupsPath: ${message}`);

/** A cgroup path (absolute, or relative to the runtime's cgroup) for the filesystem driver. */
export function cleanCgroupsPath(value: string | undefined, id: string): string {
  if (value === undefined || value === '') return id;
  if (value.includes('\0')) throw invalid('contains a NUL byte');
  const parts = value.split('/');
  if (parts.includes('..')) throw invalid(`${JSON.stringify(value)} contains "..": name the cgroup without leaving its parent`);
  const normalized = path.posix.normalize(value).replace(/\/+$/, '');
  if (normalized === '' || normalized === '.') {
    throw invalid(`${JSON.stringify(value)} names the root cgroup: a container needs a cgroup of its own`);
  }
  return normalized;
}

/** The slice and unit --systemd-cgroup names for "slice:prefix:name" (default "system.slice:runc:<id>"). */
export function systemdUnit(value: string | undefined, id: string): { slice: string; unit: string } {
  let parent = 'system.slice';
  let prefix = 'runc';
  let name = id;
  if (value !== undefined && value !== '') {
    const parts = value.split(':');
    if (parts.length !== 3) {
      throw invalid(`with --systemd-cgroup the path has the form "slice:prefix:name" (e.g. "system.slice:docker:abc"); got ${JSON.stringify(value)}`);
    }
    [parent, prefix, name] = parts;
    if (parent === '') parent = 'system.slice';
  }
  if (name === '' || name.includes('/')) throw invalid(`the name part of ${JSON.stringify(value)} must be a non-empty unit name without "/"`);
  const unit = name.endsWith('.slice') ? name : prefix === '' ? `${name}.scope` : `${prefix}-${name}.scope`;
  return { slice: parent, unit };
}

/**
 * systemd's unit naming, without systemd: the slice path of "a-b.slice" is
 * /a.slice/a-b.slice (systemd.slice(5)), and the unit is "<prefix>-<name>.scope".
 */
export function systemdCgroupPath(value: string | undefined, id: string): string {
  const { slice, unit } = systemdUnit(value, id);
  return path.posix.join(expandSlice(slice), unit);
}

export function expandSlice(slice: string): string {
  const bad = () => invalid(`${JSON.stringify(slice)} is not a valid systemd slice name (e.g. "system.slice", "machine-pod.slice")`);
  if (!slice.endsWith('.slice') || slice.length <= '.slice'.length || slice.includes('/')) throw bad();
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  let result = '';
  let prefix = '';
  for (const component of base.split('-')) {
    if (component === '') throw bad();
    result += `/${prefix}${component}.slice`;
    prefix += `${component}-`;
  }
  return result;
}

/**
 * The container's directory in every hierarchy of the host, keyed as runc's
 * state.json keys them: v1 controller names ("name=systemd" for a named
 * hierarchy), "" for the unified hierarchy (v2, or beside v1 on a hybrid host).
 */
export function resolvePaths(host: CgroupHost, cgroupPath: string): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const h of host.hierarchies) {
    const inHierarchy = cgroupPath.startsWith('/') ? cgroupPath : path.posix.join(h.ownCgroup, cgroupPath);
    const dir = directoryOf(h, inHierarchy);
    if (h.version === 2) paths[UNIFIED] = dir;
    else for (const c of h.controllers) paths[c] = dir;
  }
  return paths;
}
