// Bind mount sources, found as the runtime sees them. A container with a user
// namespace runs its init with that namespace's credentials, which may not
// reach a source the runtime can (one below a mode-000 directory), so the
// runtime opens each source itself, before the init is cloned: a detached
// copy of the source's mount (open_tree(2)), which the init inherits and
// attaches. An fd of the source alone would not do: the kernel binds only
// from mounts of the caller's own mount namespace, and the init's is a copy.
// Id-mapped mounts only the runtime can make (idmap-mounts.ts): a config
// with one has every source opened here, whatever the container's namespaces.
//
// Each bind goes through the same steps, in this order, wherever it is opened:
//   1. clone: a detached copy of the source (with its submounts for rbind
//      and ridmap: clonesSubmounts);
//   2. idmap: MOUNT_ATTR_IDMAP, which the kernel takes only on a detached
//      mount that has never been attached;
//   3. flags: ro, nosuid, atime... as the options ask (a bind ignores them
//      at mount time, mount(2));
//   4. lock, for a container with a user namespace: a copy through a mount
//      namespace of a less privileged user namespace, which locks the flags
//      and the submounts (locked-mounts.ts) and keeps the id mapping;
//   5. attach, by the init (rootfs.ts), with the propagation it asks for.
// Steps 1-4 run in the runtime for the sources it opens (openBindSources),
// 1 and 3 in the init for the others (openBindSourceInInit).
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import type { Mount, Spec } from '../spec/types.js';
import { MOUNT_ATTR, MS, SysError, close } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { cloneMount, describeError, mountTarget, setAttributes } from './detached-mounts.js';
import { IdMapNamespaces, isIdMapped, type UserNamespaceMaker } from './idmap-mounts.js';
import { lockedCopies } from './locked-mounts.js';
import { mountAttributes, parseMountOptions, type MountAttributes, type ParsedMountOptions } from './mount-options.js';

/** Detached copies of bind sources by their index in config.mounts, ready to attach. */
export type BindSources = Map<number, number>;

export function isBindSource(m: Mount, options: ParsedMountOptions): boolean {
  return options.isBind && m.type !== 'cgroup' && m.type !== 'cgroup2';
}

/**
 * Opens every bind source of `config` in the runtime (which must be root of
 * the host's user namespace): cloned, id-mapped, with its flags, and locked
 * when the container has a user namespace, whose root could otherwise
 * change them. The init only attaches them. The caller closes them once the
 * init has its copies.
 */
export function openBindSources(kernel: Kernel, config: Spec, bundle: string, makeUserNamespace: UserNamespaceMaker): BindSources {
  const sources: BindSources = new Map();
  const recursive: boolean[] = [];
  const idMaps = new IdMapNamespaces(kernel, config, makeUserNamespace);
  try {
    (config.mounts ?? []).forEach((m, index) => {
      const options = parseMountOptions(m.options, m.type);
      if (!isBindSource(m, options)) return;
      try {
        const tree = cloneBindSource(kernel, m, options, bundle);
        sources.set(index, tree);
        idMaps.apply(tree, m, index, options);
        setBindFlags(kernel, tree, options);
      } catch (err) {
        throw wrap(err, `container init: ${mountTarget(m)}`, { code: 'container-init', causeText: describeError(err) });
      }
      recursive.push(clonesSubmounts(options));
    });
    if (config.linux?.namespaces?.some((ns) => ns.type === 'user')) {
      const indexes = [...sources.keys()];
      const locked = lockedCopies(
        kernel,
        indexes.map((index, i) => ({ fd: sources.get(index)!, recursive: recursive[i] })),
      );
      closeBindSources(sources);
      indexes.forEach((index, i) => sources.set(index, locked[i]));
    }
  } catch (err) {
    closeBindSources(sources);
    throw err;
  } finally {
    idMaps.close();
  }
  return sources;
}

/** The init's copy of a source the runtime did not open, with its flags: never an id-mapped one, which only the runtime can make. */
export function openBindSourceInInit(kernel: Kernel, m: Mount, options: ParsedMountOptions, bundle: string): number {
  if (isIdMapped(m)) throw new OciError('internal', 'an id-mapped mount reached the container init without its mapping');
  const tree = cloneBindSource(kernel, m, options, bundle);
  try {
    setBindFlags(kernel, tree, options);
  } catch (err) {
    close(tree);
    throw err;
  }
  return tree;
}

/** The flags a bind's options ask for, on the detached copy of its source, before it is attached. */
function setBindFlags(kernel: Kernel, tree: number, options: ParsedMountOptions): void {
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

/** "rbind", and "ridmap", whose mapping is for the mounts below the source too. */
export function clonesSubmounts(options: ParsedMountOptions): boolean {
  return (options.flags & MS.REC) !== 0 || options.runtime.has('ridmap');
}

/** A detached copy of the mount at the source, relative to the bundle (with its submounts: see clonesSubmounts). */
function cloneBindSource(kernel: Kernel, m: Mount, options: ParsedMountOptions, bundle: string): number {
  const source = path.resolve(bundle, m.source ?? '');
  try {
    return cloneMount(kernel, source, clonesSubmounts(options));
  } catch (err) {
    if (err instanceof SysError && (err.code === 'ENOENT' || err.code === 'ENOTDIR'))
      throw new OciError('container-init', `source ${source} does not exist`, [], { cause: err });
    throw err;
  }
}
