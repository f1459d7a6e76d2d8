// Turning a mount's `options` list (fstab-style words) into mount(2) flags,
// propagation changes, attributes for a whole mount tree, and the
// filesystem-specific data string.
import { MOUNT_ATTR, MS } from '../sys/libc.js';

const FLAG_OPTIONS: Record<string, { set?: number; clear?: number }> = {
  defaults: {},
  ro: { set: MS.RDONLY },
  rw: { clear: MS.RDONLY },
  suid: { clear: MS.NOSUID },
  nosuid: { set: MS.NOSUID },
  dev: { clear: MS.NODEV },
  nodev: { set: MS.NODEV },
  exec: { clear: MS.NOEXEC },
  noexec: { set: MS.NOEXEC },
  sync: { set: MS.SYNCHRONOUS },
  async: { clear: MS.SYNCHRONOUS },
  dirsync: { set: MS.DIRSYNC },
  remount: { set: MS.REMOUNT },
  mand: { set: MS.MANDLOCK },
  nomand: { clear: MS.MANDLOCK },
  atime: { clear: MS.NOATIME },
  noatime: { set: MS.NOATIME },
  diratime: { clear: MS.NODIRATIME },
  nodiratime: { set: MS.NODIRATIME },
  relatime: { set: MS.RELATIME },
  norelatime: { clear: MS.RELATIME },
  strictatime: { set: MS.STRICTATIME },
  nostrictatime: { clear: MS.STRICTATIME },
  lazytime: { set: MS.LAZYTIME },
  nolazytime: { clear: MS.LAZYTIME },
  silent: { set: MS.SILENT },
  loud: { clear: MS.SILENT },
  symfollow: { clear: MS.NOSYMFOLLOW },
  nosymfollow: { set: MS.NOSYMFOLLOW },
  // A superblock flag: it applies where mount(2) makes or remounts a
  // filesystem; a bind mount shares its source's superblock and leaves it as it is.
  iversion: { set: MS.I_VERSION },
  noiversion: { clear: MS.I_VERSION },
  bind: { set: MS.BIND },
  rbind: { set: MS.BIND | MS.REC },
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * Attributes for a mount and every mount below it (mount_setattr(2) with
 * AT_RECURSIVE), as runc names them: "ro" on an rbind makes only its top
 * mount read-only, "rro" all of them.
 */
const RECURSIVE_OPTIONS: Record<string, { set?: number; clear?: number; atime?: number }> = {
  rro: { set: MOUNT_ATTR.RDONLY },
  rrw: { clear: MOUNT_ATTR.RDONLY },
  rnosuid: { set: MOUNT_ATTR.NOSUID },
  rsuid: { clear: MOUNT_ATTR.NOSUID },
  rnodev: { set: MOUNT_ATTR.NODEV },
  rdev: { clear: MOUNT_ATTR.NODEV },
  rnoexec: { set: MOUNT_ATTR.NOEXEC },
  rexec: { clear: MOUNT_ATTR.NOEXEC },
  rnodiratime: { set: MOUNT_ATTR.NODIRATIME },
  rdiratime: { clear: MOUNT_ATTR.NODIRATIME },
  rnosymfollow: { set: MOUNT_ATTR.NOSYMFOLLOW },
  rsymfollow: { clear: MOUNT_ATTR.NOSYMFOLLOW },
  rrelatime: { atime: MOUNT_ATTR.RELATIME },
  ratime: { atime: MOUNT_ATTR.RELATIME },
  rnoatime: { atime: MOUNT_ATTR.NOATIME },
  rstrictatime: { atime: MOUNT_ATTR.STRICTATIME },
  // The atime mode is one of three values (mount_setattr(2), MOUNT_ATTR__ATIME):
  // taking relatime or strictatime away leaves the kernel's default, relatime.
  rnorelatime: { atime: MOUNT_ATTR.RELATIME },
  rnostrictatime: { atime: MOUNT_ATTR.RELATIME },
};

/** Options ocirun understands but that are not mount(2) flags (idmap, ridmap: see idmap-mounts.ts). */
const RUNTIME_OPTIONS = new Set(['tmpcopyup', 'idmap', 'ridmap']);

/** mount_setattr(2)'s attr_set and attr_clr. */
export interface MountAttributes {
  set: number;
  clear: number;
  /** With MOUNT_ATTR_IDMAP in `set`: the user namespace whose maps the mount takes (userns_fd). */
  usernsFd?: number;
}

export interface ParsedMountOptions {
  /** MS_* flags the options turn on. */
  flags: number;
  /** MS_* flags the options explicitly turn off ("rw", "suid", "dev", ...). */
  cleared: number;
  propagation: number[];
  /** For the mount and its submounts (the r* options). */
  recursive: MountAttributes;
  data: string[];
  isBind: boolean;
  runtime: Set<string>;
}

export function parseMountOptions(options: string[] = [], type?: string): ParsedMountOptions {
  const parsed: ParsedMountOptions = {
    flags: 0,
    cleared: 0,
    propagation: [],
    recursive: { set: 0, clear: 0 },
    data: [],
    isBind: type === 'bind',
    runtime: new Set(),
  };
  for (const option of options) {
    const flag = FLAG_OPTIONS[option];
    const recursive = RECURSIVE_OPTIONS[option];
    if (flag) {
      parsed.flags = (parsed.flags | (flag.set ?? 0)) & ~(flag.clear ?? 0);
      parsed.cleared = (parsed.cleared | (flag.clear ?? 0)) & ~(flag.set ?? 0);
      if (option === 'bind' || option === 'rbind') parsed.isBind = true;
    } else if (recursive) {
      addAttributes(parsed.recursive, recursive);
    } else if (option in PROPAGATION_OPTIONS) {
      parsed.propagation.push(PROPAGATION_OPTIONS[option]);
    } else if (RUNTIME_OPTIONS.has(option)) {
      parsed.runtime.add(option);
    } else {
      parsed.data.push(option);
    }
  }
  if (parsed.isBind) parsed.flags |= MS.BIND;
  return parsed;
}

function addAttributes(into: MountAttributes, change: { set?: number; clear?: number; atime?: number }): void {
  let set = change.set ?? 0;
  let clear = change.clear ?? 0;
  if (change.atime !== undefined) {
    set |= change.atime;
    clear |= MOUNT_ATTR.ATIME_MASK;
    into.set &= ~MOUNT_ATTR.ATIME_MASK;
  }
  into.set = (into.set | set) & ~(change.clear ?? 0);
  into.clear = (into.clear | clear) & ~(change.set ?? 0);
}

/** mount(2) flags and the mount_setattr(2) attributes that mean the same (atime aside: one value of three). */
export const FLAG_ATTRIBUTES: readonly (readonly [ms: number, attr: number])[] = [
  [MS.RDONLY, MOUNT_ATTR.RDONLY],
  [MS.NOSUID, MOUNT_ATTR.NOSUID],
  [MS.NODEV, MOUNT_ATTR.NODEV],
  [MS.NOEXEC, MOUNT_ATTR.NOEXEC],
  [MS.NODIRATIME, MOUNT_ATTR.NODIRATIME],
  [MS.NOSYMFOLLOW, MOUNT_ATTR.NOSYMFOLLOW],
];

/** The options' flags of a single mount as mount_setattr(2) attributes; only what they name changes. */
export function mountAttributes(options: ParsedMountOptions): MountAttributes {
  const attrs: MountAttributes = { set: 0, clear: 0 };
  for (const [ms, attr] of FLAG_ATTRIBUTES) {
    if (options.flags & ms) attrs.set |= attr;
    else if (options.cleared & ms) attrs.clear |= attr;
  }
  const atime =
    options.flags & MS.NOATIME
      ? MOUNT_ATTR.NOATIME
      : options.flags & MS.STRICTATIME
        ? MOUNT_ATTR.STRICTATIME
        : options.flags & MS.RELATIME || options.cleared & MS.NOATIME
          ? MOUNT_ATTR.RELATIME
          : undefined;
  if (atime !== undefined) addAttributes(attrs, { atime });
  return attrs;
}

export function propagationFlag(name: string | undefined): number | undefined {
  return name === undefined ? undefined : PROPAGATION_OPTIONS[name];
}

export const KNOWN_MOUNT_OPTIONS = [...Object.keys(FLAG_OPTIONS), ...Object.keys(RECURSIVE_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), ...RUNTIME_OPTIONS];
