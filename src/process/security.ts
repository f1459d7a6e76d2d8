// The security settings of a container process: seccomp, AppArmor/SELinux
// labels, personality, I/O priority and scheduler. The runtime checks and
// compiles them before the init is cloned (so a bad profile is an error
// that leaves nothing behind); the init applies them at fixed points.
//
// Order in the init (see init.ts):
//   1. rootfs final → personality, scheduler, ioPriority, LSM exec labels
//      (while every capability is still there: RT classes need CAP_SYS_NICE)
//   2. seccomp, when process.noNewPrivileges is false: loading a filter without
//      no_new_privs needs CAP_SYS_ADMIN, so it goes before credentials change
//      (as runc does); the init's later steps then run under the filter.
//   3. credentials (bounding set, user, capabilities, no_new_privs)
//   4. seccomp, when noNewPrivileges is true and a rule notifies: the fd must
//      reach the runtime before 'ready', while the runtime still listens.
//   5. ready → wait for start → close fds → unblock signals
//   6. seccomp, when noNewPrivileges is true and nothing notifies: the very
//      last step, so execve(2) is the only system call made under the filter.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import { checkIntelRdt } from '../linux/intel-rdt.js';
import { checkHostNetDevices, checkNetDevices } from '../linux/net-devices.js';
import { checkHostMemoryPolicy, checkMemoryPolicy } from '../linux/memory-policy.js';
import { checkCpuAffinity } from '../linux/cpu-affinity.js';
import { checkIdMappedMounts } from '../linux/idmap-mounts.js';
import { applicableMountLabel, applyLsmLabels, checkLsmSupport } from '../linux/lsm.js';
import { warn } from '../log.js';
import { applyProcessAttributes, checkProcessAttributes } from '../linux/process-attrs.js';
import { compileSeccomp, type CompiledSeccomp, type LinuxSeccomp } from '../seccomp/compile.js';
import { parseWithExactIntegers } from '../seccomp/exact-values.js';
import { containerProcessState, sendToListener, type ListenerState } from '../seccomp/listener.js';
import { loadSeccomp } from '../seccomp/load.js';
import type { Process, Spec } from '../spec/types.js';
import { formatProblems, type ConfigProblem } from '../spec/validate.js';
import { recvFd, sendFd } from '../sys/fd-passing.js';
import { close } from '../sys/libc.js';
import type { Channel } from './channel.js';

export type SeccompStage = 'before-credentials' | 'before-ready' | 'before-exec';

export interface SecurityPlan {
  seccomp?: CompiledSeccomp;
  seccompStage?: SeccompStage;
  /**
   * The filter loads before the init marks its fds close-on-exec, and may
   * refuse close_range(2): the init then marks them one by one.
   */
  closeRangeFiltered?: boolean;
  /** What the seccomp agent is told about the container. */
  listener?: ListenerState;
}

export interface PrepareOptions {
  mode: 'create' | 'exec';
  id: string;
  bundle: string;
  annotations?: Record<string, string>;
  /** Where the process settings came from, for messages: config.json's /process by default. */
  processSource?: { file: string; pointer: string };
}

/**
 * In the runtime, before the init exists: every check of these settings that
 * can be made without the container, and the seccomp filter compiled.
 */
export function prepareSecurity(config: Spec, processSpec: Process, opts: PrepareOptions): SecurityPlan {
  const source = opts.processSource ?? { file: 'config.json', pointer: '/process' };
  const configProblems = [
    ...checkProcessAttributes(processSpec, source.pointer),
    ...checkCpuAffinity(processSpec, source.pointer),
    ...(opts.mode === 'create' ? [...checkNetDevices(config), ...checkMemoryPolicy(config), ...checkIdMappedMounts(config)] : []),
  ];
  if (configProblems.length > 0) throw problemsError('invalid-config', configProblems, source.file);
  const hostProblems: ConfigProblem[] = [
    ...checkLsmSupport(processSpec, source.pointer),
    ...(opts.mode === 'create' ? checkIntelRdt(config) : []),
    ...(opts.mode === 'create' ? [...checkHostNetDevices(config), ...checkHostMemoryPolicy(config)] : []),
  ];
  if (hostProblems.length > 0) throw problemsError('unsupported', hostProblems, source.file);

  const seccomp = config.linux?.seccomp as LinuxSeccomp | undefined;
  if (!seccomp) return {};
  const configFile = path.join(opts.bundle, 'config.json');
  const compiled = compileSeccomp(seccomp, { exactConfig: () => parseWithExactIntegers(readFileSync(configFile, 'utf8')) });
  const seccompStage: SeccompStage = !processSpec.noNewPrivileges ? 'before-credentials' : compiled.notify ? 'before-ready' : 'before-exec';
  return {
    seccomp: compiled,
    seccompStage,
    closeRangeFiltered: seccompStage !== 'before-exec' && !compiled.allowsCloseRange,
    listener: {
      id: opts.id,
      status: opts.mode === 'create' ? 'creating' : 'running',
      bundle: opts.bundle,
      annotations: opts.annotations,
    },
  };
}

/**
 * The config the init applies: settings this host or runtime cannot honour
 * and that the spec (or runc and crun) let go with a warning are left out;
 * the recorded config keeps them.
 */
export function configForInit(config: Spec): Spec {
  const linux = config.linux;
  if (!linux) return config;
  if (linux.personality?.flags?.length) {
    // config-linux.md, Personality: "Currently no flag values are supported".
    warn(`linux.personality.flags: ignoring ${linux.personality.flags.join(', ')}: no flag values are supported`);
  }
  const mountLabel = applicableMountLabel(linux.mountLabel);
  return mountLabel === linux.mountLabel ? config : { ...config, linux: { ...linux, mountLabel } };
}

function problemsError(code: 'invalid-config' | 'unsupported', problems: ConfigProblem[], file: string): OciError {
  const lines = formatProblems(problems, file);
  return new OciError(code, lines[0], lines.slice(1));
}

/** Init, step 1 and 2: after the root filesystem is final, before credentials change. */
export function applyBeforeCredentials(config: Spec, processSpec: Process, plan: SecurityPlan | undefined, channel: Channel): void {
  applyProcessAttributes(config, processSpec);
  applyLsmLabels(processSpec);
  if (plan?.seccompStage === 'before-credentials') loadInInit(plan.seccomp!, channel);
}

/** Init, step 4: after credentials and no_new_privs, before 'ready'. */
export function applyAfterCredentials(plan: SecurityPlan | undefined, channel: Channel): void {
  if (plan?.seccompStage === 'before-ready') loadInInit(plan.seccomp!, channel);
}

/** Init, step 6: right before execve. */
export function applyBeforeExec(plan: SecurityPlan | undefined): void {
  if (plan?.seccompStage === 'before-exec') loadSeccomp(plan.seccomp!);
}

/**
 * Loads the filter; a notify fd goes to the runtime over the channel (a
 * message announcing it, then the fd with SCM_RIGHTS), and is closed here:
 * the container's process must not hold its own listener.
 */
function loadInInit(compiled: CompiledSeccomp, channel: Channel): void {
  const fd = loadSeccomp(compiled);
  if (fd < 0) return;
  channel.send({ type: 'seccomp-notify-fd' });
  sendFd(channel.fd, fd, 'seccompFd');
  close(fd);
}

/** Runtime side of 'seccomp-notify-fd': takes the fd off the channel and hands it to the listener. */
export function relayNotifyFd(plan: SecurityPlan | undefined, channelFd: number, pid: number): void {
  const { fd } = recvFd(channelFd);
  try {
    const seccomp = plan?.seccomp;
    if (!seccomp?.listenerPath || !plan?.listener) {
      throw new OciError('container-init', 'container init sent a seccomp notify fd nobody listens for');
    }
    sendToListener(seccomp.listenerPath, fd, containerProcessState(pid, plan.listener, seccomp.listenerMetadata));
  } finally {
    close(fd);
  }
}
