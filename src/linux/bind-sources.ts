// Bind mount sources, found as the runtime sees them. A container with a user
// namespace runs its init with that namespace's credentials, which may not
// reach a source the runtime can (one below a mode-000 directory), so the
// runtime opens each source itself, before the init is cloned: a detached
// copy of the source's mount (open_tree(2)), which the init inherits and
// attaches. An fd of the source alone would not do: the kernel binds only
// from mounts of the caller's own mount namespace, and the init's is a copy.
// Id-mapped mounts are made here too, whatever the container's namespaces
// (idmap-mounts.ts).
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import type { Mount, Spec } from '../spec/types.js';
import { MS, SysError, close } from '../sys/libc.js';
import type { Kernel } from '../sys/kernel.js';
import { cloneMount, describeError, mountTarget } from './detached-mounts.js';
import { IdMapNamespaces, isIdMapped, type UserNamespaceMaker } from './idmap-mounts.js';
import { parseMountOptions, type ParsedMountOptions } from './mount-options.js';

/** Detached copies of bind sources by their index in config.mounts. */
export type BindSources = Map<number, number>;

export function isBindSource(m: Mount, options: ParsedMountOptions): boolean {
  return options.isBind && m.type !== 'cgroup' && m.type !== 'cgroup2';
}

/**
 * Opens every bind source of `config` in the runtime (which must be allowed
 * to mount: root, or CAP_SYS_ADMIN over its mount namespace). The caller
 * closes them once the init has its copies.
 */
export function openBindSources(kernel: Kernel, config: Spec, bundle: string, makeUserNamespace: UserNamespaceMaker): BindSources {
  const sources: BindSources = new Map();
  const idMaps = new IdMapNamespaces(kernel, config, makeUserNamespace);
  try {
    (config.mounts ?? []).forEach((m, index) => {
      const options = parseMountOptions(m.options, m.type);
      if (!isBindSource(m, options)) return;
      try {
        const tree = cloneBindSource(kernel, m, options, bundle);
        sources.set(index, tree);
        idMaps.apply(tree, m, index, options);
      } catch (err) {
        throw wrap(err, `container init: ${mountTarget(m)}`, { code: 'container-init', causeText: describeError(err) });
      }
    });
  } catch (err) {
    closeBindSources(sources);
    throw err;
  } finally {
    idMaps.close();
  }
  return sources;
}

export function closeBindSources(sources: BindSources | undefined): void {
  for (const fd of sources?.values() ?? []) close(fd);
  sources?.clear();
}

/** The init's copy of a source the runtime did not open: never an id-mapped one, which only the runtime can make. */
export function cloneBindSourceInInit(kernel: Kernel, m: Mount, options: ParsedMountOptions, bundle: string): number {
  if (isIdMapped(m)) throw new OciError('internal', 'an id-mapped mount reached the container init without its mapping');
  return cloneBindSource(kernel, m, options, bundle);
}

/** "rbind", and "ridmap", whose mapping is for the mounts below the source too. */
export function clonesSubmounts(options: ParsedMountOptions): boolean {
  return (options.flags & MS.REC) !== 0 || options.runtime.has('ridmap');
}

/** A detached copy of the mount at the source, relative to the bundle (with its submounts: see clonesSubmounts). */
export function cloneBindSource(kernel: Kernel, m: Mount, options: ParsedMountOptions, bundle: string): number {
  const source = path.resolve(bundle, m.source ?? '');
  try {
    return cloneMount(kernel, source, clonesSubmounts(options));
  } catch (err) {
    if (err instanceof SysError && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) throw new OciError('container-init', `source ${source} does not exist`, [], { cause: err });
    throw err;
  }
}
