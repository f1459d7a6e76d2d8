// Bind mount sources, found as the runtime sees them. A container with a user
// namespace runs its init with that namespace's credentials, which may not
// reach a source the runtime can (one below a mode-000 directory), so the
// runtime opens each source itself, before the init is cloned: a detached
// copy of the source's mount (open_tree(2)), which the init inherits and
// attaches. An fd of the source alone would not do: the kernel binds only
// from mounts of the caller's own mount namespace, and the init's is a copy.
// Each copy gets its flags here and then goes through a copy of a mount
// namespace that locks them (locked-mounts.ts), as the init's own copy of
// the host's mounts has them locked.
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import type { Mount, Spec } from '../spec/types.js';
import { MOUNT_ATTR, MS, SysError, close } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { cloneMount, describeError, mountTarget, setAttributes } from './detached-mounts.js';
import { lockedCopies } from './locked-mounts.js';
import { mountAttributes, parseMountOptions, type MountAttributes, type ParsedMountOptions } from './mount-options.js';

/** Detached copies of bind sources by their index in config.mounts. */
export type BindSources = Map<number, number>;

export function isBindSource(m: Mount, options: ParsedMountOptions): boolean {
  return options.isBind && m.type !== 'cgroup' && m.type !== 'cgroup2';
}

/**
 * Opens every bind source of `config` in the runtime (which must be root of
 * the host's user namespace), with the flags its options ask for, locked.
 * The init only attaches them (and sets their propagation). The caller
 * closes them once the init has its copies.
 */
export function openBindSources(kernel: Kernel, config: Spec, bundle: string): BindSources {
  const sources: BindSources = new Map();
  const recursive: boolean[] = [];
  try {
    (config.mounts ?? []).forEach((m, index) => {
      const options = parseMountOptions(m.options, m.type);
      if (!isBindSource(m, options)) return;
      try {
        const tree = cloneBindSource(kernel, m, options, bundle);
        sources.set(index, tree);
        setBindFlags(kernel, tree, options);
      } catch (err) {
        throw wrap(err, `container init: ${mountTarget(m)}`, { code: 'container-init', causeText: describeError(err) });
      }
      recursive.push((options.flags & MS.REC) !== 0);
    });
    const indexes = [...sources.keys()];
    const locked = lockedCopies(kernel, indexes.map((index, i) => ({ fd: sources.get(index)!, recursive: recursive[i] })));
    closeBindSources(sources);
    indexes.forEach((index, i) => sources.set(index, locked[i]));
  } catch (err) {
    closeBindSources(sources);
    throw err;
  }
  return sources;
}

/** The flags a bind's options ask for, on the detached copy of its source, before it is attached. */
export function setBindFlags(kernel: Kernel, tree: number, options: ParsedMountOptions): void {
  setBindAttributes(kernel, tree, mountAttributes(options));
  setAttributes(kernel, tree, options.recursive, true);
}

/**
 * A copy of a mount that came from a more privileged mount namespace keeps
 * the flags the kernel locked on it (mount_namespaces(7)): clearing one, as
 * "rw" or "suid" ask, fails with EPERM. The bind then keeps what its source
 * has and gets only the flags to set, as in runc, which leaves locked flags
 * in place.
 */
function setBindAttributes(kernel: Kernel, tree: number, attrs: MountAttributes): void {
  try {
    setAttributes(kernel, tree, attrs, false);
  } catch (err) {
    if (!(err instanceof SysError && err.code === 'EPERM' && attrs.clear !== 0)) throw err;
    setAttributes(kernel, tree, { set: attrs.set & ~MOUNT_ATTR.ATIME_MASK, clear: 0 }, false);
  }
}

export function closeBindSources(sources: BindSources | undefined): void {
  for (const fd of sources?.values() ?? []) close(fd);
  sources?.clear();
}

/** A detached copy of the mount at the source, relative to the bundle ("rbind": with its submounts). */
export function cloneBindSource(kernel: Kernel, m: Mount, options: ParsedMountOptions, bundle: string): number {
  const source = path.resolve(bundle, m.source ?? '');
  try {
    return cloneMount(kernel, source, (options.flags & MS.REC) !== 0);
  } catch (err) {
    if (err instanceof SysError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) throw new OciError('container-init', `source ${source} does not exist`, [], { cause: err });
    throw err;
  }
}
