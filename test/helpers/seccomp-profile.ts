// The default seccomp profile of podman and Docker, as shipped in
// /usr/share/containers/seccomp.json (Debian 12: golang-github-containers-common;
// later Debian and Fedora: containers-common), turned into an OCI
// linux.seccomp the way podman does it (containers/common pkg/seccomp): keep
// the native architecture's archMap entry, and the rules whose includes and
// excludes (architectures, capabilities in the bounding set, minimum kernel)
// match the container.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import koffi from 'koffi';
import type { LinuxSeccomp, SeccompSyscall } from '../../src/seccomp/compile.js';

export const CONTAINERS_SECCOMP_JSON = '/usr/share/containers/seccomp.json';

interface Filter {
  arches?: string[];
  caps?: string[];
  minKernel?: string;
}

interface ProfileSyscall {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[] | null;
  includes?: Filter;
  excludes?: Filter;
}

interface ContainersProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[] | null;
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: ProfileSyscall[];
}

/** The OCI shape, as ocirun reads it (syscalls always present here). */
export type OciSyscall = SeccompSyscall;
export type OciSeccomp = LinuxSeccomp & { syscalls: SeccompSyscall[] };

/** Node's process.arch to Go's GOARCH (the profile's includes.arches) and libseccomp's name. */
const ARCHES: Record<string, { go: string; scmp: string }> = {
  x64: { go: 'amd64', scmp: 'SCMP_ARCH_X86_64' },
  arm64: { go: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
};

function kernelAtLeast(min: string, release = os.release()): boolean {
  const parse = (v: string) =>
    v
      .split(/[.-]/)
      .slice(0, 2)
      .map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = parse(release);
  const [x, y] = parse(min);
  return a > x || (a === x && b >= y);
}

export function toOciSeccomp(profile: ContainersProfile, boundingCaps: string[]): OciSeccomp {
  const arch = ARCHES[process.arch];
  if (!arch) throw new Error(`no GOARCH known for ${process.arch}`);
  const entry = (profile.archMap ?? []).find((a) => a.architecture === arch.scmp);
  const matches = (call: ProfileSyscall): boolean => {
    const inc = call.includes ?? {};
    const exc = call.excludes ?? {};
    if (inc.arches?.length && !inc.arches.includes(arch.go)) return false;
    if (exc.arches?.length && exc.arches.includes(arch.go)) return false;
    if (inc.caps?.length && !inc.caps.every((c) => boundingCaps.includes(c))) return false;
    if (exc.caps?.length && exc.caps.some((c) => boundingCaps.includes(c))) return false;
    if (inc.minKernel && !kernelAtLeast(inc.minKernel)) return false;
    return true;
  };
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    ...(entry ? { architectures: [entry.architecture, ...(entry.subArchitectures ?? [])] } : {}),
    ...(profile.flags?.length ? { flags: profile.flags } : {}),
    ...(profile.listenerPath ? { listenerPath: profile.listenerPath } : {}),
    ...(profile.listenerMetadata ? { listenerMetadata: profile.listenerMetadata } : {}),
    syscalls: (profile.syscalls ?? []).filter(matches).map((call) => ({
      names: call.names ?? (call.name ? [call.name] : []),
      action: call.action,
      ...(call.errnoRet !== undefined ? { errnoRet: call.errnoRet } : {}),
      ...(call.args?.length ? { args: call.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op })) } : {}),
    })),
  };
}

export function loadContainersProfile(file = CONTAINERS_SECCOMP_JSON): ContainersProfile {
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: install golang-github-containers-common (Debian 12) or containers-common`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as ContainersProfile;
}

/** The default profile of runtime-tools' config generator (the OCI conformance suite's), as its tests get it on x86_64. */
export function runtimeToolsProfile(): OciSeccomp {
  return JSON.parse(readFileSync(new URL('../../fixtures/runtime-tools-seccomp.json', import.meta.url), 'utf8')) as OciSeccomp;
}

/** The newest system call of Linux 4.20 (December 2018): rseq, on both architectures. */
const LAST_2018: Record<string, number> = { x64: 334, arm64: 293 };

/** Every system call of a Linux 4.20 kernel on this architecture, by name (libseccomp's table). */
export function syscallsOf2018(): string[] {
  const last = LAST_2018[process.arch];
  if (last === undefined) throw new Error(`no 2018 system call table known for ${process.arch}`);
  const lib = koffi.load('libseccomp.so.2');
  const native = lib.func('uint32_t seccomp_arch_native()')();
  const nameOf = lib.func('const char *seccomp_syscall_resolve_num_arch(uint32_t arch_token, int num)');
  const names: string[] = [];
  for (let nr = 0; nr <= last; nr++) {
    const name = nameOf(native, nr) as string | null;
    if (name) names.push(name);
  }
  return names;
}
