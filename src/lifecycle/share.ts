// Containers that live in another container's namespaces (a pod: an infra
// container and its members). `create --share net,ipc,uts=infra` (an ocirun
// extension) points the member's namespaces at the infra's init; whichever
// way a member joined (that flag, or /proc/<pid>/ns paths in config.json), its
// state records the containers it joined, and it leaves a mark in theirs, so
// `delete` of the infra can refuse while members still run in its namespaces.
import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { OciError } from '../errors.js';
import { warn } from '../log.js';
import { namespacePath } from '../linux/namespaces.js';
import type { NamespaceType } from '../spec/types.js';
import { currentStatus } from '../state/status.js';
import type { ContainerState, Store } from '../state/store.js';
import { openContainer, type OpenContainer } from './container.js';

export interface ShareRequest {
  id: string;
  types: NamespaceType[];
}

const TYPE_NAMES: Record<string, NamespaceType> = {
  net: 'network',
  network: 'network',
  ipc: 'ipc',
  uts: 'uts',
  pid: 'pid',
  mnt: 'mount',
  mount: 'mount',
  cgroup: 'cgroup',
  user: 'user',
  time: 'time',
};

/** Parses one `--share TYPES=ID` (TYPES: a comma-separated list, e.g. net,ipc,uts). */
export function parseShare(value: string): ShareRequest {
  const match = /^([\w,]+)=([\w+.-]+)$/.exec(value);
  if (!match) throw new OciError('usage', `--share ${JSON.stringify(value)}: expected TYPES=CONTAINER, e.g. net,ipc,uts=infra`);
  const types = match[1].split(',').map((name) => {
    const type = TYPE_NAMES[name];
    if (!type) throw new OciError('usage', `--share ${value}: unknown namespace type ${JSON.stringify(name)} (use ${Object.keys(TYPE_NAMES).join(', ')})`);
    return type;
  });
  return { id: match[2], types: [...new Set(types)] };
}

export interface Shares {
  /** Applied to the raw config.json before it is validated. */
  rewrite(raw: unknown): void;
  /** Releases the locks that keep the shared containers from being deleted meanwhile. */
  release(): void;
}

/**
 * Locks each container to share from and checks it can be shared from: it
 * runs (or waits for start) and owns each namespace asked for.
 */
export function prepareShares(store: Store, requests: ShareRequest[]): Shares {
  const opened: OpenContainer[] = [];
  const entries: { type: NamespaceType; path: string }[] = [];
  try {
    for (const request of requests) {
      const container = openContainer(store, request.id, {
        lock: true,
        allow: ['created', 'running', 'paused'],
        withoutState: 'stopped',
        refuse: (id, status) => new OciError('container-not-running', `--share ${id}: container is ${status}, its namespaces are gone`),
      });
      opened.push(container);
      const { state } = container;
      for (const type of request.types) {
        if (!state.ownNamespaces.includes(type)) {
          throw new OciError('usage', `--share ${request.id}: it has no ${type} namespace of its own to share`);
        }
        if (entries.some((e) => e.type === type)) throw new OciError('usage', `--share: the ${type} namespace is shared twice`);
        entries.push({ type, path: namespacePath(state.pid, type) });
      }
    }
  } catch (err) {
    for (const container of opened) container.release();
    throw err;
  }
  return {
    rewrite(raw: unknown) {
      if (typeof raw !== 'object' || raw === null) return;
      const config = raw as { hostname?: unknown; domainname?: unknown; linux?: { namespaces?: unknown } };
      config.linux ??= {};
      const current = Array.isArray(config.linux.namespaces) ? config.linux.namespaces : [];
      config.linux.namespaces = [...current.filter((ns) => !entries.some((e) => e.type === (ns as { type?: unknown })?.type)), ...entries];
      if (entries.some((e) => e.type === 'uts')) {
        // The member takes the shared UTS namespace's names: a config's own would be an error (config.md).
        for (const field of ['hostname', 'domainname'] as const) {
          if (config[field]) warn(`--share uts: config.json's ${field} ${JSON.stringify(config[field])} is ignored; the shared one applies`);
          delete config[field];
        }
      }
    },
    release() {
      for (const container of opened) container.release();
    },
  };
}

/**
 * The containers under this root whose namespaces `namespaces` joins, found
 * by the namespace files' identities (so paths written by hand count too).
 */
export function joinedContainers(store: Store, id: string, namespaces: { type: NamespaceType; path?: string }[] = []): string[] {
  const joined = namespaces.flatMap((ns) => (ns.path ? [{ type: ns.type, key: fileKey(ns.path) }] : []));
  if (joined.length === 0) return [];
  return otherStates(store, id)
    .filter((state) => currentStatus(store, state) !== 'stopped')
    .filter((state) => joined.some((j) => j.key && state.ownNamespaces.includes(j.type) && fileKey(namespacePath(state.pid, j.type)) === j.key))
    .map((state) => state.id);
}

/**
 * Without force, refuses to delete a container while others that joined its
 * namespaces run. With force, says which are left running: they keep the
 * namespaces they hold alive, except a shared pid namespace, whose processes
 * the kernel kills when its init dies (pid_namespaces(7)).
 */
export function checkMembers(store: Store, id: string, force: boolean): void {
  const members = statesOf(store, store.markedMembers(id))
    .filter((state) => state.joined?.includes(id) && currentStatus(store, state) !== 'stopped')
    .map((state) => state.id);
  if (members.length === 0) return;
  const list = members.join(', ');
  if (!force) {
    throw new OciError('wrong-state', `${id}: cannot delete: containers ${list} run in its namespaces (delete them first, or use --force)`);
  }
  warn(`${id}: deleted while containers ${list} run in its namespaces; those sharing its pid namespace are killed with it`);
}

/**
 * A member leaves a mark in the directory of each container it joined, so
 * that deleting a container reads the states of its members only, not of
 * every container under the root. The mark is a hint: the member's state
 * decides. Best effort: a container deleted meanwhile has nowhere to mark.
 */
export function markMembership(store: Store, member: string, joined: string[]): void {
  for (const id of joined) {
    try {
      writeFileSync(store.memberMarkPath(id, member), '', { mode: 0o600 });
    } catch {
      // gone meanwhile
    }
  }
}

/** At the member's delete. */
export function unmarkMembership(store: Store, member: string, joined: string[] = []): void {
  for (const id of joined) {
    // unlink, not rmSync: that loads Node's recursive rm (see Store.remove).
    try {
      unlinkSync(store.memberMarkPath(id, member));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function otherStates(store: Store, id: string): ContainerState[] {
  return statesOf(
    store,
    store.ids().filter((other) => other !== id),
  );
}

function statesOf(store: Store, ids: string[]): ContainerState[] {
  return ids.flatMap((other) => {
    try {
      const state = store.read(other);
      return state ? [state] : [];
    } catch {
      return []; // gone meanwhile, or damaged: not a member to wait for
    }
  });
}

function fileKey(file: string): string | null {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}
