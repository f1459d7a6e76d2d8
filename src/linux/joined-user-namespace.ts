// A container that joins a user namespace (linux.namespaces, a "user" entry
// with a path) and gives linux.uidMappings/gidMappings: they cannot be
// written (a namespace's maps are written once, by its creator), so they
// must be the namespace's own, or the container would not be what the
// config says. runc refuses a mismatch too.
//
// The cloned child reads them once it is in the namespace: a process in a
// user namespace sees its own uid_map with the ids of the parent namespace
// (user_namespaces(7)), which is what the config's hostID means. It reads
// them through the init's own procfs handle (procfs.ts), opened before it
// joined anything: a joined mount namespace could show another /proc.
import type { IdMapping, Spec } from '../spec/types.js';
import { joinNamespaces, type NamespacePlan } from './namespaces.js';
import type { Kernel } from '../sys/kernel.js';
import { procfs } from './procfs.js';

/** joinNamespaces, then (creating a container) a check of the config's id maps against the joined user namespace's. */
export function joinNamespacesCheckingIdMaps(kernel: Kernel, plan: NamespacePlan, config: Spec, mode: 'create' | 'exec'): void {
  joinNamespaces(kernel, plan);
  const userJoin = plan.joins.find((j) => j.type === 'user');
  if (mode === 'create' && userJoin) checkIdMaps(config, userJoin.path);
}

function checkIdMaps(config: Spec, nsPath: string): void {
  for (const [field, file] of [
    ['uidMappings', 'uid_map'],
    ['gidMappings', 'gid_map'],
  ] as const) {
    const wanted = config.linux?.[field];
    if (!wanted?.length) continue;
    const actual = parseIdMap(procfs().readSelf(file));
    if (!sameMappings(wanted, actual)) {
      throw new Error(
        `linux.${field} ${formatMappings(wanted)} do not match the joined user namespace ${nsPath}, whose ${file} is ${formatMappings(actual) || 'empty'}`,
      );
    }
  }
}

/** uid_map/gid_map text: "containerID hostID size" per line. */
export function parseIdMap(text: string): IdMapping[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isFinite))
    .map(([containerID, hostID, size]) => ({ containerID, hostID, size }));
}

const key = (m: IdMapping) => `${m.containerID}:${m.hostID}:${m.size}`;

/** The same ranges, in any order. */
export function sameMappings(a: IdMapping[], b: IdMapping[]): boolean {
  const sorted = (list: IdMapping[]) => list.map(key).sort().join(' ');
  return sorted(a) === sorted(b);
}

function formatMappings(list: IdMapping[]): string {
  return list.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join(', ');
}
