// Id-mapped mounts (config.md "Mounts": uidMappings/gidMappings of a mount)
// are not implemented: `features` says mountExtensions.idmap is disabled, and
// a mount asking for one is refused rather than mounted without the mapping.
import type { Spec } from '../spec/types.js';
import type { ConfigProblem } from '../spec/validate.js';

export function checkIdMappedMounts(config: Spec): ConfigProblem[] {
  return (config.mounts ?? []).flatMap((mount, i) => {
    const m = mount as { uidMappings?: unknown[]; gidMappings?: unknown[] };
    if (!m.uidMappings?.length && !m.gidMappings?.length) return [];
    return [{ pointer: `/mounts/${i}/uidMappings`, message: 'id-mapped mounts are not supported by ocirun (see `ocirun features`: mountExtensions.idmap)' }];
  });
}
