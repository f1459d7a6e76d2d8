// No cgroup at all: the container of an unprivileged user, who cannot create
// cgroups under the host's hierarchies. Its processes stay in the caller's
// cgroup; a limit in linux.resources is refused rather than silently dropped.
import { OciError } from '../errors.js';
import type { CgroupManager, CgroupPlacement, LinuxResources } from './types.js';
import type { Stats } from './stats.js';

export class NoCgroups implements CgroupManager {
  readonly version = 2;
  readonly paths: Record<string, string> = {};

  check(resources: LinuxResources): void {
    // Device rules have nothing to guard: an unprivileged user can create no device node anyway.
    const limits = Object.entries(resources).filter(([key, value]) => key !== 'devices' && value !== undefined);
    if (limits.length > 0) {
      throw new OciError(
        'invalid-config',
        `config.json: /linux/resources/${limits[0][0]}: limits need cgroups, which ocirun does not create when not run as root (remove linux.resources or run as root)`,
      );
    }
  }
  create(): void {}
  apply(): void {}
  placement(): CgroupPlacement {
    return { v1: [], field: 'linux.cgroupsPath' };
  }
  set(): void {}
  freeze(): void {
    throw new OciError('system', 'the container has no cgroup (created without root): it cannot be paused');
  }
  thaw(): void {}
  isFrozen(): boolean {
    return false;
  }
  pids(): number[] {
    return [];
  }
  stats(): Stats {
    throw new OciError('system', 'the container has no cgroup (created without root): no statistics');
  }
  oomKillCount(): number {
    return 0;
  }
  exists(): boolean {
    return false;
  }
  destroy(): void {}
}
