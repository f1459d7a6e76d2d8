import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatProblems, validateConfig } from '../../src/spec/validate.js';
import { CAPABILITY_NAMES } from '../../src/linux/capabilities.js';

// Configs are plain JSON documents built and mutated freely in each test.
type Config = Record<string, any>;

let bundleDir: string;

beforeAll(() => {
  bundleDir = mkdtempSync(path.join(tmpdir(), 'ocirun-validate-'));
  mkdirSync(path.join(bundleDir, 'rootfs'));
  writeFileSync(path.join(bundleDir, 'a-file'), '');
});

afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true });
});

function minimalConfig(): Config {
  return {
    ociVersion: '1.3.0',
    root: { path: 'rootfs' },
    process: { cwd: '/', args: ['sh'] },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  };
}

/** The minimal config after `change`, validated and formatted. */
function problemsAfter(change: (config: Config) => void): string[] {
  const config = minimalConfig();
  change(config);
  return problemLines(config);
}

function problemLines(config: unknown): string[] {
  return formatProblems(validateConfig(config, bundleDir));
}

function fullConfig(): Config {
  return {
    ociVersion: '1.3.0',
    root: { path: 'rootfs', readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
      { destination: '/data', type: 'none', source: '/volumes/data', options: ['rbind', 'rw'] },
      {
        destination: 'relative/is/deprecated',
        type: 'none',
        source: 'data',
        options: ['bind', 'idmap'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    ],
    process: {
      terminal: true,
      consoleSize: { height: 25, width: 80 },
      user: { uid: 1, gid: 1, umask: 18, additionalGids: [5, 6] },
      args: ['sh', '-c', 'echo hello'],
      commandLine: 'sh -c "echo hello"',
      env: ['PATH=/usr/bin:/bin', 'TERM=xterm', 'EMPTY='],
      cwd: '/root',
      capabilities: {
        bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_CHECKPOINT_RESTORE'],
        effective: ['CAP_AUDIT_WRITE', 'CAP_KILL'],
        inheritable: ['CAP_CHOWN'],
        permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        ambient: ['CAP_NET_BIND_SERVICE'],
      },
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
        { type: 'RLIMIT_RTTIME', soft: 0, hard: 0 },
      ],
      noNewPrivileges: true,
      apparmorProfile: 'acme_secure_profile',
      oomScoreAdj: -1000,
      scheduler: {
        policy: 'SCHED_DEADLINE',
        nice: -5,
        priority: 0,
        flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_UTIL_CLAMP_MAX'],
        runtime: 10000000,
        deadline: 20000000,
        period: 30000000,
      },
      selinuxLabel: 'system_u:system_r:svirt_lxc_net_t:s0:c124,c675',
      ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 7 },
      execCPUAffinity: { initial: '7', final: '0-3,7' },
    },
    hostname: 'slartibartfast',
    domainname: 'example.test',
    hooks: {
      prestart: [{ path: '/usr/bin/fix-mounts', args: ['fix-mounts', 'arg1'], env: ['key1=value1'] }],
      createRuntime: [{ path: '/usr/bin/setup-network' }],
      createContainer: [{ path: '/usr/bin/mount-hook', args: ['-mount'] }],
      startContainer: [{ path: '/usr/bin/refresh-ldcache' }],
      poststart: [{ path: '/usr/bin/notify-start', timeout: 5 }],
      poststop: [{ path: '/usr/sbin/cleanup.sh', args: ['cleanup.sh', '-f'] }],
    },
    annotations: { 'com.example.key1': 'value1', 'org.opencontainers.image.os': 'linux', empty: '' },
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'network', path: '/var/run/netns/neta' },
        { type: 'mount' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'user' },
        { type: 'cgroup' },
        { type: 'time' },
      ],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      timeOffsets: {
        monotonic: { secs: 172800, nanosecs: 0 },
        boottime: { secs: -604800, nanosecs: 999999999 },
      },
      devices: [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
        { path: '/dev/sda', type: 'b', major: 8, minor: 0, fileMode: 432 },
        { path: '/dev/unbuffered', type: 'u', major: 4, minor: 64 },
        { path: '/dev/fifo', type: 'p' },
      ],
      netDevices: { eth0: { name: 'container_eth0' }, eth1: {} },
      cgroupsPath: '/myRuntime/myContainer',
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
          { allow: true, type: 'a', major: -1, minor: -1, access: 'm' },
        ],
        memory: {
          limit: 536870912,
          reservation: 536870912,
          swap: 536870912,
          kernel: -1,
          kernelTCP: -1,
          swappiness: 0,
          disableOOMKiller: false,
          useHierarchy: true,
          checkBeforeUpdate: true,
        },
        cpu: {
          shares: 1024,
          quota: 1000000,
          burst: 1000000,
          period: 500000,
          realtimeRuntime: 950000,
          realtimePeriod: 1000000,
          cpus: '2-3',
          mems: '0-7',
          idle: 1,
        },
        pids: { limit: -1 },
        blockIO: {
          weight: 10,
          leafWeight: 1000,
          weightDevice: [
            { major: 8, minor: 0, weight: 500, leafWeight: 300 },
            { major: 8, minor: 16, leafWeight: 500 },
          ],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
          throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 700 }],
          throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 200 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 300 }],
        },
        hugepageLimits: [
          { pageSize: '2MB', limit: 9223372036854772000 },
          { pageSize: '64KB', limit: 1000000 },
        ],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 1000 } },
        unified: { 'io.max': '259:0 rbps=2097152 wiops=120', 'hugetlb.1GB.max': '1073741824' },
      },
      intelRdt: {
        closID: 'guaranteed_group',
        l3CacheSchema: 'L3:0=7f0;1=1f',
        memBwSchema: 'MB:0=20;1=70',
        schemata: ['L2:0=f;1=f'],
        enableMonitoring: true,
      },
      memoryPolicy: { mode: 'MPOL_INTERLEAVE', nodes: '2-3', flags: ['MPOL_F_STATIC_NODES'] },
      sysctl: {
        'net.ipv4.ip_forward': '1',
        'kernel.shmmax': '4096',
        'fs.mqueue.msg_max': '10',
      },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        listenerPath: '/run/seccomp-agent.socket',
        listenerMetadata: 'MKNOD=/dev/null',
        syscalls: [
          { names: ['getcwd', 'chmod'], action: 'SCMP_ACT_ALLOW' },
          { names: ['personality'], action: 'SCMP_ACT_TRACE', errnoRet: 38 },
          {
            names: ['clone'],
            action: 'SCMP_ACT_ALLOW',
            args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
          },
          { names: ['mknod'], action: 'SCMP_ACT_NOTIFY' },
        ],
      },
      rootfsPropagation: 'slave',
      maskedPaths: ['/proc/kcore', '/proc/timer_stats'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
      mountLabel: 'system_u:object_r:svirt_sandbox_file_t:s0:c715,c811',
      personality: { domain: 'LINUX32', flags: [] },
    },
  };
}

describe('validateConfig: accepted configs', () => {
  it('accepts the minimal Linux config', () => {
    expect(problemLines(minimalConfig())).toEqual([]);
  });

  it('accepts a realistic config that fills every section', () => {
    expect(problemLines(fullConfig())).toEqual([]);
  });

  it('accepts an absolute root path', () => {
    expect(problemsAfter((c) => (c.root.path = path.join(bundleDir, 'rootfs')))).toEqual([]);
  });

  it('ignores unknown properties at every level', () => {
    const config = fullConfig();
    config.futureField = { anything: [1, 2] };
    config.windows = { layerFolders: ['C:\\layers'] };
    config.root.futureFlag = true;
    config.mounts[0].futureOption = 1;
    config.process.futureSetting = 'x';
    config.process.user.username = 'ignored-on-linux';
    config.hooks.futureHook = [{ whatever: true }];
    config.hooks.poststart[0].futureField = 'x';
    config.linux.futureSection = {};
    config.linux.namespaces[0].futureField = 1;
    config.linux.resources.futureController = { limit: 1 };
    config.linux.resources.memory.futureLimit = -5;
    config.linux.seccomp.syscalls[0].comment = 'unknown';
    expect(problemLines(config)).toEqual([]);
  });

  it('accepts any non-empty annotation key', () => {
    expect(problemsAfter((c) => (c.annotations = { 'org.opencontainers.reserved.x': '', 'x y/z~': 'v' }))).toEqual([]);
  });
});

describe('validateConfig: schema problems', () => {
  it('rejects a document that is not an object', () => {
    expect(problemLines(['not', 'an', 'object'])).toEqual(['config.json: must be an object']);
  });

  it('names missing required top-level fields', () => {
    expect(problemLines({})).toEqual(['config.json: /ociVersion: is required', 'config.json: /root: is required']);
  });

  it('points at missing nested required fields', () => {
    const lines = problemsAfter((c) => {
      c.root = {};
      c.process = {};
      c.mounts = [{ source: 'tmpfs' }];
      c.hooks = { poststop: [{ args: ['x'] }] };
      c.linux.namespaces.push({ path: '/proc/1/ns/net' });
      c.linux.uidMappings = [{ hostID: 1, size: 1 }];
      c.linux.devices = [{ major: 1, minor: 3 }];
    });
    expect(lines).toEqual([
      'config.json: /root/path: is required',
      'config.json: /mounts/0/destination: is required',
      'config.json: /process/cwd: is required',
      'config.json: /process/args: is required',
      'config.json: /hooks/poststop/0/path: is required',
      'config.json: /linux/namespaces/2/type: is required',
      'config.json: /linux/uidMappings/0/containerID: is required',
      'config.json: /linux/devices/0/type: is required',
      'config.json: /linux/devices/0/path: is required',
    ]);
  });

  it('says which type was expected', () => {
    const lines = problemsAfter((c) => {
      c.ociVersion = 1.3;
      c.root.readonly = 'yes';
      c.process.args = 'sh';
      c.process.terminal = 1;
      c.process.user = { uid: '0', gid: 0.5 };
      c.annotations = { count: 2 };
      c.linux.namespaces = {};
      c.linux.sysctl = { 'net.core.somaxconn': 256 };
    });
    expect(lines).toEqual([
      'config.json: /ociVersion: must be a string',
      'config.json: /root/readonly: must be a boolean',
      'config.json: /process/terminal: must be a boolean',
      'config.json: /process/user/uid: must be an integer',
      'config.json: /process/user/gid: must be an integer',
      'config.json: /process/args: must be an array',
      'config.json: /annotations/count: must be a string',
      'config.json: /linux/namespaces: must be an array',
      'config.json: /linux/sysctl/net.core.somaxconn: must be a string',
    ]);
  });

  it('requires at least one argument', () => {
    expect(problemsAfter((c) => (c.process.args = []))).toEqual(['config.json: /process/args: must have at least 1 item']);
  });

  it('lists the allowed namespace types', () => {
    expect(problemsAfter((c) => c.linux.namespaces.push({ type: 'foo' }))).toEqual([
      'config.json: /linux/namespaces/2/type: must be one of "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"',
    ]);
  });

  it('lists the allowed values of other enumerations', () => {
    const lines = problemsAfter((c) => {
      c.process.scheduler = { policy: 'SCHED_FAST', flags: ['SCHED_FLAG_RECLAIM', 'SCHED_FLAG_X'] };
      c.process.ioPriority = { class: 'IOPRIO_CLASS_NONE', priority: 0 };
      c.linux.rootfsPropagation = 'master';
      c.linux.devices = [{ type: 'x', path: '/dev/x' }];
      c.linux.memoryPolicy = { mode: 'MPOL_ANY' };
      c.linux.personality = { domain: 'LINUX64' };
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_Z80'],
        flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'],
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_IN' }] }],
      };
    });
    expect(lines).toEqual([
      'config.json: /process/scheduler/policy: must be one of "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"',
      'config.json: /process/scheduler/flags/1: must be one of "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX"',
      'config.json: /process/ioPriority/class: must be one of "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"',
      'config.json: /linux/devices/0/type: must be one of "c", "b", "u", "p"',
      'config.json: /linux/memoryPolicy/mode: must be one of "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"',
      'config.json: /linux/seccomp/architectures/0: must be one of "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB"',
      'config.json: /linux/seccomp/flags/0: must be one of "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"',
      'config.json: /linux/seccomp/syscalls/0/args/0/op: must be one of "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"',
      'config.json: /linux/rootfsPropagation: must be one of "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"',
      'config.json: /linux/personality/domain: must be one of "LINUX", "LINUX32"',
    ]);
  });

  it('rejects time offsets for clocks a time namespace cannot shift', () => {
    const lines = problemsAfter((c) => {
      c.linux.namespaces.push({ type: 'time' });
      c.linux.timeOffsets = { realtime: { secs: 10 }, monotonic: { secs: 1, nanosecs: 1000000000 } };
    });
    expect(lines).toEqual([
      'config.json: /linux/timeOffsets/realtime: key must be one of "monotonic", "boottime"',
      'config.json: /linux/timeOffsets/monotonic/nanosecs: must be at most 999999999',
    ]);
  });

  it('enforces the integer ranges the spec names', () => {
    const lines = problemsAfter((c) => {
      c.process.user = { uid: -1, gid: 4294967296 };
      c.process.oomScoreAdj = 1001;
      c.process.rlimits = [{ type: 'RLIMIT_CORE', soft: -1, hard: 2 ** 65 }];
      c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 };
      c.linux.resources = {
        memory: { limit: 2 ** 64, swappiness: 101 },
        blockIO: { weight: 5, weightDevice: [{ major: 8, minor: 0, weight: 1001 }] },
        cpu: { idle: 2 },
        network: { classID: 2 ** 32 },
      };
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }],
      };
    });
    expect(lines).toEqual([
      'config.json: /process/user/uid: must be at least 0',
      'config.json: /process/user/gid: must be at most 4294967294',
      'config.json: /process/rlimits/0/soft: must be at least 0',
      'config.json: /process/rlimits/0/hard: must be at most 18446744073709551615',
      'config.json: /process/oomScoreAdj: must be at most 1000',
      'config.json: /process/ioPriority/priority: must be at most 7',
      'config.json: /linux/resources/memory/limit: must be at most 9223372036854775807',
      'config.json: /linux/resources/memory/swappiness: must be at most 100',
      'config.json: /linux/resources/cpu/idle: must be one of 0, 1',
      'config.json: /linux/resources/blockIO/weight: must be at least 10',
      'config.json: /linux/resources/blockIO/weightDevice/0/weight: must be at most 1000',
      'config.json: /linux/resources/network/classID: must be at most 4294967295',
      'config.json: /linux/seccomp/syscalls/0/args/0/index: must be at most 5',
    ]);
  });

  it('requires hook timeouts above zero and absolute hook paths', () => {
    const lines = problemsAfter((c) => {
      c.hooks = { createRuntime: [{ path: 'hook', timeout: 0 }] };
    });
    expect(lines).toEqual([
      'config.json: /hooks/createRuntime/0/path: must be an absolute path (starting with "/")',
      'config.json: /hooks/createRuntime/0/timeout: must be at least 1',
    ]);
  });

  it('requires absolute paths where the spec does', () => {
    const lines = problemsAfter((c) => {
      c.process.cwd = 'home';
      c.linux.namespaces[0].path = 'proc/1/ns/pid';
      c.linux.maskedPaths = ['/proc/kcore', 'proc/keys'];
      c.linux.readonlyPaths = ['sys'];
    });
    expect(lines).toEqual([
      'config.json: /process/cwd: must be an absolute path (starting with "/")',
      'config.json: /linux/namespaces/0/path: must be an absolute path (starting with "/")',
      'config.json: /linux/maskedPaths/1: must be an absolute path (starting with "/")',
      'config.json: /linux/readonlyPaths/0: must be an absolute path (starting with "/")',
    ]);
  });

  it('describes pattern rules in words', () => {
    const lines = problemsAfter((c) => {
      c.ociVersion = '1.3';
      c.process.env = ['PATH=/bin', 'NOEQUALS', '=value'];
      c.process.execCPUAffinity = { initial: '0-3,', final: 'all' };
      c.linux.resources = {
        devices: [{ allow: true, access: 'rwx' }],
        hugepageLimits: [{ pageSize: '2M', limit: 1 }],
      };
      c.linux.intelRdt = { memBwSchema: 'L3:0=1', schemata: ['MB:0=20\nL3:0=1'] };
    });
    expect(lines).toEqual([
      'config.json: /ociVersion: must be a SemVer 2.0.0 version such as "1.3.0"',
      'config.json: /process/env/1: must be an environment entry of the form "NAME=value"',
      'config.json: /process/env/2: must be an environment entry of the form "NAME=value"',
      'config.json: /process/execCPUAffinity/initial: must be a list of CPUs or memory nodes such as "0-3,7"',
      'config.json: /process/execCPUAffinity/final: must be a list of CPUs or memory nodes such as "0-3,7"',
      'config.json: /linux/resources/devices/0/access: must be a combination of "r", "w" and "m"',
      'config.json: /linux/resources/hugepageLimits/0/pageSize: must be a huge page size such as "2MB" or "1GB"',
      'config.json: /linux/intelRdt/memBwSchema: must be a single line starting with "MB:"',
      'config.json: /linux/intelRdt/schemata/0: must be a single line (no newline)',
    ]);
  });

  it('folds "at least one of" alternatives into one line', () => {
    const lines = problemsAfter((c) => {
      c.linux.resources = {
        blockIO: { weightDevice: [{ major: 8, minor: 0 }] },
        rdma: { mlx5_1: {} },
      };
    });
    expect(lines).toEqual([
      'config.json: /linux/resources/blockIO/weightDevice/0: must set at least one of "weight", "leafWeight"',
      'config.json: /linux/resources/rdma/mlx5_1: must set at least one of "hcaHandles", "hcaObjects"',
    ]);
  });

  it('reports properties that need a companion', () => {
    const lines = problemsAfter((c) => {
      c.mounts = [{ destination: '/data', uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }];
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerMetadata: 'x' };
    });
    expect(lines).toEqual([
      'config.json: /mounts/0/gidMappings: is required when "uidMappings" is set',
      'config.json: /linux/seccomp/listenerPath: is required when "listenerMetadata" is set',
    ]);
  });

  it('rejects empty keys and empty syscall names lists, not personality flags (ignored with a warning)', () => {
    const lines = problemsAfter((c) => {
      c.annotations = { '': 'x' };
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_LOG' }] };
      c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] };
    });
    expect(lines).toEqual(['config.json: /annotations/: key must not be empty', 'config.json: /linux/seccomp/syscalls/0/names: must have at least 1 item']);
  });

  it('reports one line per pointer when a value breaks several rules', () => {
    // "1" is neither an integer nor one of the allowed values 0 and 1.
    expect(problemsAfter((c) => (c.linux.resources = { cpu: { idle: '1' } }))).toEqual(['config.json: /linux/resources/cpu/idle: must be an integer']);
  });

  it('escapes "/" and "~" in pointers', () => {
    expect(problemsAfter((c) => (c.annotations = { 'a/b~c': 1 }))).toEqual(['config.json: /annotations/a~1b~0c: must be a string']);
  });

  it('requires an idmapping to map at least one id', () => {
    const lines = problemsAfter((c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    });
    expect(lines).toEqual(['config.json: /linux/uidMappings/0/size: must be at least 1']);
  });

  it('skips semantic checks until the schema passes', () => {
    const lines = problemsAfter((c) => {
      c.ociVersion = '2.0.0';
      c.process.args = [];
    });
    expect(lines).toEqual(['config.json: /process/args: must have at least 1 item']);
  });
});

describe('validateConfig: semantic problems', () => {
  it('rejects a major version other than 1', () => {
    expect(problemsAfter((c) => (c.ociVersion = '2.0.0'))).toEqual(['config.json: /ociVersion: unsupported major version 2 (ocirun supports 1.x)']);
    expect(problemsAfter((c) => (c.ociVersion = '1.0.2-dev'))).toEqual([]);
  });

  it('requires the root filesystem directory to exist', () => {
    expect(problemsAfter((c) => (c.root.path = 'missing'))).toEqual([`config.json: /root/path: no such directory: ${path.join(bundleDir, 'missing')}`]);
    expect(problemsAfter((c) => (c.root.path = 'a-file'))).toEqual([`config.json: /root/path: not a directory: ${path.join(bundleDir, 'a-file')}`]);
    expect(problemsAfter((c) => (c.root.path = 'a-file/rootfs'))).toEqual([
      `config.json: /root/path: no such directory: ${path.join(bundleDir, 'a-file', 'rootfs')}`,
    ]);
  });

  it('creates without a process (config.md: REQUIRED only when start is called)', () => {
    expect(problemsAfter((c) => delete c.process)).toEqual([]);
  });

  it('rejects duplicate and unknown rlimits, and soft limits above hard ones', () => {
    const lines = problemsAfter((c) => {
      c.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 },
        { type: 'RLIMIT_FOO', soft: 1, hard: 1 },
        { type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 },
      ];
    });
    expect(lines).toEqual([
      'config.json: /process/rlimits/1/type: unknown rlimit type RLIMIT_FOO',
      'config.json: /process/rlimits/2/type: duplicate rlimit type RLIMIT_NOFILE (also at /process/rlimits/0)',
      'config.json: /process/rlimits/2/soft: must not exceed hard (1024)',
    ]);
  });

  it('knows all 16 Linux rlimits', () => {
    const types = [
      'RLIMIT_CPU',
      'RLIMIT_FSIZE',
      'RLIMIT_DATA',
      'RLIMIT_STACK',
      'RLIMIT_CORE',
      'RLIMIT_RSS',
      'RLIMIT_NPROC',
      'RLIMIT_NOFILE',
      'RLIMIT_MEMLOCK',
      'RLIMIT_AS',
      'RLIMIT_LOCKS',
      'RLIMIT_SIGPENDING',
      'RLIMIT_MSGQUEUE',
      'RLIMIT_NICE',
      'RLIMIT_RTPRIO',
      'RLIMIT_RTTIME',
    ];
    expect(problemsAfter((c) => (c.process.rlimits = types.map((type) => ({ type, soft: 1, hard: 1 }))))).toEqual([]);
  });

  it('leaves unknown capability names to create, which ignores them with a warning (config.md)', () => {
    const lines = problemsAfter((c) => {
      c.process.capabilities = { bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_FOO'], ambient: ['cap_chown'] };
    });
    expect(lines).toEqual([]);
  });

  it('knows all 41 Linux capabilities, in number order', () => {
    const all = [
      'CAP_CHOWN',
      'CAP_DAC_OVERRIDE',
      'CAP_DAC_READ_SEARCH',
      'CAP_FOWNER',
      'CAP_FSETID',
      'CAP_KILL',
      'CAP_SETGID',
      'CAP_SETUID',
      'CAP_SETPCAP',
      'CAP_LINUX_IMMUTABLE',
      'CAP_NET_BIND_SERVICE',
      'CAP_NET_BROADCAST',
      'CAP_NET_ADMIN',
      'CAP_NET_RAW',
      'CAP_IPC_LOCK',
      'CAP_IPC_OWNER',
      'CAP_SYS_MODULE',
      'CAP_SYS_RAWIO',
      'CAP_SYS_CHROOT',
      'CAP_SYS_PTRACE',
      'CAP_SYS_PACCT',
      'CAP_SYS_ADMIN',
      'CAP_SYS_BOOT',
      'CAP_SYS_NICE',
      'CAP_SYS_RESOURCE',
      'CAP_SYS_TIME',
      'CAP_SYS_TTY_CONFIG',
      'CAP_MKNOD',
      'CAP_LEASE',
      'CAP_AUDIT_WRITE',
      'CAP_AUDIT_CONTROL',
      'CAP_SETFCAP',
      'CAP_MAC_OVERRIDE',
      'CAP_MAC_ADMIN',
      'CAP_SYSLOG',
      'CAP_WAKE_ALARM',
      'CAP_BLOCK_SUSPEND',
      'CAP_AUDIT_READ',
      'CAP_PERFMON',
      'CAP_BPF',
      'CAP_CHECKPOINT_RESTORE',
    ];
    expect([...CAPABILITY_NAMES]).toEqual(all);
    expect(problemsAfter((c) => (c.process.capabilities = { permitted: all }))).toEqual([]);
  });

  it('rejects mount destinations that climb above the root', () => {
    const lines = problemsAfter((c) => {
      c.mounts = [{ destination: '/a/../b' }, { destination: '/../etc' }, { destination: 'a/../../etc' }, { destination: '/a/./..' }];
    });
    expect(lines).toEqual([
      'config.json: /mounts/1/destination: must not climb above the container root with ".."',
      'config.json: /mounts/2/destination: must not climb above the container root with ".."',
    ]);
  });

  it('rejects duplicate namespace types', () => {
    expect(problemsAfter((c) => c.linux.namespaces.push({ type: 'pid', path: '/proc/1/ns/pid' }))).toEqual([
      'config.json: /linux/namespaces/2/type: duplicate namespace type pid (also at /linux/namespaces/0)',
    ]);
  });

  it('rejects id mappings without a user namespace', () => {
    const lines = problemsAfter((c) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    });
    expect(lines).toEqual([
      'config.json: /linux/uidMappings: requires a user namespace (a linux.namespaces entry of type "user")',
      'config.json: /linux/gidMappings: requires a user namespace (a linux.namespaces entry of type "user")',
    ]);
  });

  it('requires both mappings for a new user namespace, none for a joined one', () => {
    expect(problemsAfter((c) => c.linux.namespaces.push({ type: 'user' }))).toEqual([
      'config.json: /linux/uidMappings: is required when a new user namespace is created',
      'config.json: /linux/gidMappings: is required when a new user namespace is created',
    ]);
    expect(
      problemsAfter((c) => {
        c.linux.namespaces.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      }),
    ).toEqual(['config.json: /linux/gidMappings: is required when a new user namespace is created']);
    expect(problemsAfter((c) => c.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' }))).toEqual([]);
  });

  it('sets hostname and domainname only in a UTS namespace of the container, new or joined', () => {
    const withoutUts = problemsAfter((c) => {
      c.hostname = 'box';
      c.domainname = 'example.test';
    });
    expect(withoutUts).toEqual([
      'config.json: /hostname: can only be set in a UTS namespace of the container (a linux.namespaces entry of type "uts")',
      'config.json: /domainname: can only be set in a UTS namespace of the container (a linux.namespaces entry of type "uts")',
    ]);
    const joinedUts = problemsAfter((c) => {
      c.hostname = 'box';
      c.linux.namespaces.push({ type: 'uts', path: '/proc/1/ns/uts' });
    });
    expect(joinedUts).toEqual([]);
    const newUts = problemsAfter((c) => {
      c.hostname = 'box';
      c.linux.namespaces.push({ type: 'uts' });
    });
    expect(newUts).toEqual([]);
  });

  it('refuses a name set both by its field and by its sysctl', () => {
    const lines = problemsAfter((c) => {
      c.linux.namespaces.push({ type: 'uts' });
      c.hostname = 'box';
      c.domainname = 'example.test';
      c.linux.sysctl = { 'kernel.hostname': 'box', 'kernel/domainname': 'other.test' };
    });
    expect(lines).toEqual([
      'config.json: /linux/sysctl/kernel.hostname: conflicts with /hostname: set the name in one of them',
      'config.json: /linux/sysctl/kernel~1domainname: conflicts with /domainname: set the name in one of them',
    ]);
  });

  it('requires a new time namespace for time offsets', () => {
    const offsets = { monotonic: { secs: 10 } };
    expect(problemsAfter((c) => (c.linux.timeOffsets = offsets))).toEqual([
      'config.json: /linux/timeOffsets: requires a new time namespace (a linux.namespaces entry of type "time" without a path)',
    ]);
    const joined = problemsAfter((c) => {
      c.linux.timeOffsets = offsets;
      c.linux.namespaces.push({ type: 'time', path: '/proc/1/ns/time' });
    });
    expect(joined).toHaveLength(1);
    const created = problemsAfter((c) => {
      c.linux.timeOffsets = offsets;
      c.linux.namespaces.push({ type: 'time' });
    });
    expect(created).toEqual([]);
  });

  it("allows sysctls only inside the container's own namespaces", () => {
    const lines = problemsAfter((c) => {
      c.linux.sysctl = {
        'net.ipv4.ip_forward': '1',
        'kernel.msgmax': '8192',
        'fs.mqueue.queues_max': '256',
        'kernel.hostname': 'box',
        'kernel/domainname': 'example.test',
        'vm.swappiness': '10',
        'kernel.pid_max': '100',
      };
    });
    expect(lines).toEqual([
      'config.json: /linux/sysctl/net.ipv4.ip_forward: is not allowed in the host\'s network namespace (add a linux.namespaces entry of type "network")',
      'config.json: /linux/sysctl/kernel.msgmax: is not allowed in the host\'s IPC namespace (add a linux.namespaces entry of type "ipc")',
      'config.json: /linux/sysctl/fs.mqueue.queues_max: is not allowed in the host\'s IPC namespace (add a linux.namespaces entry of type "ipc")',
      'config.json: /linux/sysctl/kernel.hostname: is not allowed in the host\'s UTS namespace (add a linux.namespaces entry of type "uts")',
      'config.json: /linux/sysctl/kernel~1domainname: is not allowed in the host\'s UTS namespace (add a linux.namespaces entry of type "uts")',
      'config.json: /linux/sysctl/vm.swappiness: is not allowed: no namespace isolates it, so it would change the host',
      'config.json: /linux/sysctl/kernel.pid_max: is not allowed: no namespace isolates it, so it would change the host',
    ]);
  });

  it('accepts namespaced sysctls in new or joined namespaces', () => {
    const lines = problemsAfter((c) => {
      c.linux.namespaces.push({ type: 'network', path: '/var/run/netns/a' }, { type: 'ipc' }, { type: 'uts' });
      c.linux.sysctl = {
        'net.core.somaxconn': '256',
        'kernel.shm_rmid_forced': '1',
        'fs.mqueue.msg_max': '10',
        'kernel.domainname': 'example.test',
      };
    });
    expect(lines).toEqual([]);
  });

  it('takes device paths anywhere in the container, with or without a trailing slash', () => {
    const lines = problemsAfter((c) => {
      c.linux.devices = [
        { type: 'c', path: '/dev/null', major: 1, minor: 3 },
        { type: 'c', path: '/tmp/null/', major: 1, minor: 3 },
        { type: 'c', path: 'dev/null', major: 1, minor: 3 },
        { type: 'c', path: '/dev/../', major: 1, minor: 3 },
      ];
    });
    expect(lines).toEqual([
      'config.json: /linux/devices/2/path: must be an absolute path naming a file in the container',
      'config.json: /linux/devices/3/path: must be an absolute path naming a file in the container',
    ]);
  });

  it('requires device numbers except for FIFOs, which may have any', () => {
    const lines = problemsAfter((c) => {
      c.linux.devices = [
        { type: 'c', path: '/dev/a', minor: 1 },
        { type: 'b', path: '/dev/b' },
        { type: 'u', path: '/dev/c', major: 1, minor: 0 },
        { type: 'p', path: '/dev/d', major: 5, minor: 0 },
      ];
    });
    expect(lines).toEqual([
      'config.json: /linux/devices/0/major: is required for a device of type "c"',
      'config.json: /linux/devices/1/major: is required for a device of type "b"',
      'config.json: /linux/devices/1/minor: is required for a device of type "b"',
    ]);
  });

  it('allows an errno only with seccomp actions that return one', () => {
    const lines = problemsAfter((c) => {
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_KILL_PROCESS',
        defaultErrnoRet: 1,
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
          { names: ['write'], action: 'SCMP_ACT_ALLOW', errnoRet: 1 },
        ],
      };
    });
    expect(lines).toEqual([
      'config.json: /linux/seccomp/defaultErrnoRet: can only be used with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_KILL_PROCESS',
      'config.json: /linux/seccomp/syscalls/1/errnoRet: can only be used with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW',
    ]);
  });
});

describe('formatProblems', () => {
  it('prefixes the file name and the pointer, omitting an empty pointer', () => {
    const problems = [
      { pointer: '/process/args', message: 'must have at least 1 item' },
      { pointer: '', message: 'must be an object' },
    ];
    expect(formatProblems(problems)).toEqual(['config.json: /process/args: must have at least 1 item', 'config.json: must be an object']);
    expect(formatProblems(problems, '/bundle/config.json')).toEqual([
      '/bundle/config.json: /process/args: must have at least 1 item',
      '/bundle/config.json: must be an object',
    ]);
  });
});
