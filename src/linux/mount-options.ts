// Turning a mount's `options` list (fstab-style words) into mount(2) flags,
// propagation changes, and the filesystem-specific data string.
import { MS } from '../sys/libc.js';

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

/** Options ocirun understands but that are not mount(2) flags. */
const RUNTIME_OPTIONS = new Set(['tmpcopyup']);

export interface ParsedMountOptions {
  flags: number;
  propagation: number[];
  data: string[];
  isBind: boolean;
  runtime: Set<string>;
}

export function parseMountOptions(options: string[] = [], type?: string): ParsedMountOptions {
  const parsed: ParsedMountOptions = { flags: 0, propagation: [], data: [], isBind: type === 'bind', runtime: new Set() };
  for (const option of options) {
    const flag = FLAG_OPTIONS[option];
    if (flag) {
      parsed.flags = (parsed.flags | (flag.set ?? 0)) & ~(flag.clear ?? 0);
      if (option === 'bind' || option === 'rbind') parsed.isBind = true;
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

export function propagationFlag(name: string | undefined): number | undefined {
  return name === undefined ? undefined : PROPAGATION_OPTIONS[name];
}

export const KNOWN_MOUNT_OPTIONS = [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), ...RUNTIME_OPTIONS];
