// The shape of state.json, checked by hand: this runs in every command, and
// a schema library costs more to load than the check itself. Like the schema
// it replaces, it keeps only the known fields and names the first bad one.

export const STATUSES = ['creating', 'created', 'running', 'paused', 'stopped'] as const;
/** A container's status: runtime.md "State"'s, and runc's paused. */
export type Status = (typeof STATUSES)[number];

export interface ContainerState {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
  annotations?: Record<string, string>;
  rootfs: string;
  created: string;
  owner: string;
  /** Field 22 of /proc/<pid>/stat at create: tells the init from a later process reusing its pid. */
  initStartTime: number;
  /** Namespace types the container created itself (its own, to be joined by exec). */
  ownNamespaces: string[];
  cgroupPaths?: Record<string, string>;
  systemdCgroup?: boolean;
  /** Containers under this root whose namespaces this one joined (see lifecycle/share.ts). */
  joined?: string[];
  /** Without a mount namespace: the id of the root's bind mount in the host's mount table (see linux/shared-root.ts). */
  sharedRootMountId?: number;
  /** The caller's NOTIFY_SOCKET at create, which start passes the container's readiness on to (see lifecycle/notify.ts). */
  notifySocket?: string;
  /** The validated config, kept for delete (poststop hooks, cgroups) after the bundle may be gone. */
  config: unknown;
}

type Path = (string | number)[];
type Check = (value: unknown) => Path | null;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ok =
  (test: (v: unknown) => boolean): Check =>
  (v) =>
    test(v) ? null : [];
const str = ok((v) => typeof v === 'string');
const num = ok((v) => typeof v === 'number' && Number.isFinite(v));
const bool = ok((v) => typeof v === 'boolean');
const status = ok((v) => (STATUSES as readonly unknown[]).includes(v));
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? null : check(v);
const each = (value: unknown, keys: (string | number)[], check: Check): Path | null => {
  for (const key of keys) {
    const bad = check((value as Record<string | number, unknown>)[key]);
    if (bad) return [key, ...bad];
  }
  return null;
};
const stringRecord: Check = (v) => (isObject(v) ? each(v, Object.keys(v), str) : []);
const stringArray: Check = (v) => (Array.isArray(v) ? each(v, [...v.keys()], str) : []);

const FIELDS: Record<keyof ContainerState, Check> = {
  ociVersion: str,
  id: str,
  status,
  pid: num,
  bundle: str,
  annotations: optional(stringRecord),
  rootfs: str,
  created: str,
  owner: str,
  initStartTime: num,
  ownNamespaces: stringArray,
  cgroupPaths: optional(stringRecord),
  systemdCgroup: optional(bool),
  joined: optional(stringArray),
  sharedRootMountId: optional(num),
  notifySocket: optional(str),
  config: (v) => (v === undefined ? [] : null),
};

/** The state with only its known fields, or the path of the first field that is wrong. */
export function checkStateFile(data: unknown): { state: ContainerState } | { badPath: Path } {
  if (!isObject(data)) return { badPath: [] };
  const state: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(FIELDS)) {
    const bad = check(data[key]);
    if (bad) return { badPath: [key, ...bad] };
    if (key in data) state[key] = data[key];
  }
  return { state: state as unknown as ContainerState };
}
