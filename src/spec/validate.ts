// Validation of a bundle's config.json: first the JSON Schemas in schemas/
// (compiled at build time by scripts/compile-schemas.mjs), then the rules a
// schema cannot express. Every problem is reported with a JSON pointer.

import { statSync } from 'node:fs';
import path from 'node:path';
import { RLIMIT_NAMES } from '../linux/rlimits.js';
import { escapePointerToken } from './json-pointer.js';
import { SYSCTL_NAMESPACE_NAMES, sysctlNamespace } from '../linux/sysctl.js';
import validateSchema, { patternDescriptions, type ConfigSchemaError } from './generated/config-validator.js';

export interface ConfigProblem {
  /** JSON pointer (RFC 6901) to the offending value; "" is the whole document. */
  pointer: string;
  message: string;
}

/**
 * Checks a parsed config.json against the runtime-spec and ocirun's own
 * requirements. Relative root paths are resolved against bundleDir.
 * Semantic checks run only once the document has the right shape.
 */
export function validateConfig(config: unknown, bundleDir: string): ConfigProblem[] {
  if (!validateSchema(config)) return schemaProblems(validateSchema.errors ?? []);
  const checked = config as CheckedConfig;
  return SEMANTIC_CHECKS.flatMap((check) => check(checked, bundleDir));
}

/** One line per problem: `config.json: /process/args: must have at least 1 item`. */
export function formatProblems(problems: ConfigProblem[], file = 'config.json'): string[] {
  return problems.map(({ pointer, message }) => (pointer === '' ? `${file}: ${message}` : `${file}: ${pointer}: ${message}`));
}

// ---------------------------------------------------------------------------
// Schema errors in plain words

/** Errors that only summarise errors reported elsewhere. */
const SUMMARY_KEYWORDS = new Set(['propertyNames', 'if', 'anyOf', 'oneOf', 'allOf', 'not']);

function schemaProblems(errors: ConfigSchemaError[]): ConfigProblem[] {
  const alternatives = alternativesOfRequired(errors);
  const problems: ConfigProblem[] = [];
  for (const error of errors) {
    const replacement = alternatives.replacements.get(error);
    if (replacement) problems.push(replacement);
    else if (!alternatives.consumed.has(error) && !SUMMARY_KEYWORDS.has(error.keyword)) {
      problems.push(toProblem(error));
    }
  }
  return firstPerPointer(problems);
}

/**
 * The schemas use anyOf only for "at least one of these properties". ajv
 * reports one `required` error per branch plus the anyOf itself; fold them
 * into a single line at the anyOf's position.
 */
function alternativesOfRequired(errors: ConfigSchemaError[]) {
  const replacements = new Map<ConfigSchemaError, ConfigProblem>();
  const consumed = new Set<ConfigSchemaError>();
  for (const error of errors.filter((e) => e.keyword === 'anyOf')) {
    const branches = errors.filter((e) => e.schemaPath.startsWith(`${error.schemaPath}/`));
    if (branches.length === 0 || !branches.every((e) => e.keyword === 'required')) continue;
    const names = branches.map((e) => JSON.stringify(String(e.params.missingProperty)));
    branches.forEach((branch) => consumed.add(branch));
    replacements.set(error, {
      pointer: error.instancePath,
      message: `must set at least one of ${names.join(', ')}`,
    });
  }
  return { replacements, consumed };
}

/** A value that breaks several rules (say, type and enum) gets one line: the first. */
function firstPerPointer(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter(({ pointer }) => {
    if (seen.has(pointer)) return false;
    seen.add(pointer);
    return true;
  });
}

function toProblem(error: ConfigSchemaError): ConfigProblem {
  const message = describeRule(error);
  if (error.propertyName !== undefined) {
    return { pointer: childPointer(error.instancePath, error.propertyName), message: `key ${message}` };
  }
  if (error.keyword === 'required' || error.keyword === 'dependencies') {
    const missing = String(error.params.missingProperty);
    return { pointer: childPointer(error.instancePath, missing), message };
  }
  return { pointer: error.instancePath, message };
}

function describeRule({ keyword, params, message }: ConfigSchemaError): string {
  switch (keyword) {
    case 'required':
      return 'is required';
    case 'dependencies':
      return `is required when "${String(params.property)}" is set`;
    case 'type':
      return `must be ${String(params.type).split(',').map(withArticle).join(' or ')}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'pattern':
      return describePattern(String(params.pattern));
    case 'minimum':
      return `must be at least ${exactLimit(params.limit)}`;
    case 'maximum':
      return `must be at most ${exactLimit(params.limit)}`;
    case 'exclusiveMinimum':
      return `must be greater than ${exactLimit(params.limit)}`;
    case 'exclusiveMaximum':
      return `must be less than ${exactLimit(params.limit)}`;
    case 'minItems':
      return `must have at least ${count(params.limit, 'item')}`;
    case 'maxItems':
      return params.limit === 0 ? 'must be empty' : `must have at most ${count(params.limit, 'item')}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${count(params.limit, 'character')} long`;
    case 'maxLength':
      return `must be at most ${count(params.limit, 'character')} long`;
    case 'uniqueItems':
      return `must not repeat items (items ${String(params.j)} and ${String(params.i)} are equal)`;
    default:
      return message ?? `breaks the schema rule "${keyword}"`;
  }
}

function describePattern(pattern: string): string {
  const description = patternDescriptions[pattern];
  return description ? `must be ${description}` : `must match the pattern ${pattern}`;
}

const ARTICLES: Record<string, string> = {
  array: 'an array',
  boolean: 'a boolean',
  integer: 'an integer',
  null: 'null',
  number: 'a number',
  object: 'an object',
  string: 'a string',
};

function withArticle(type: string): string {
  return ARTICLES[type] ?? type;
}

function count(limit: unknown, noun: string): string {
  return `${String(limit)} ${noun}${limit === 1 ? '' : 's'}`;
}

/** 64-bit bounds are not exact as JavaScript numbers; print the real ones. */
const EXACT_LIMITS = new Map<number, string>([
  [2 ** 64, '18446744073709551615'],
  [2 ** 63, '9223372036854775807'],
  [-(2 ** 63), '-9223372036854775808'],
]);

function exactLimit(limit: unknown): string {
  return EXACT_LIMITS.get(limit as number) ?? String(limit);
}

function childPointer(parent: string, token: string): string {
  return `${parent}/${escapePointerToken(token)}`;
}

// ---------------------------------------------------------------------------
// Semantic checks: the parts of config.json the schemas validated and that
// these functions read.

interface Namespace {
  type: string;
  path?: string;
}

interface Rlimit {
  type: string;
  soft: number;
  hard: number;
}

interface LinuxDevice {
  type: string;
  path: string;
  major?: number;
  minor?: number;
}

interface SeccompRule {
  action: string;
  errnoRet?: number;
}

interface CheckedConfig {
  ociVersion: string;
  root: { path: string };
  mounts?: { destination: string }[];
  process?: {
    rlimits?: Rlimit[];
  };
  hostname?: string;
  domainname?: string;
  linux?: {
    namespaces?: Namespace[];
    uidMappings?: unknown[];
    gidMappings?: unknown[];
    timeOffsets?: Record<string, unknown>;
    devices?: LinuxDevice[];
    sysctl?: Record<string, string>;
    seccomp?: { defaultAction: string; defaultErrnoRet?: number; syscalls?: SeccompRule[] };
  };
}

type SemanticCheck = (config: CheckedConfig, bundleDir: string) => ConfigProblem[];

const SUPPORTED_MAJOR_VERSION = 1;

function checkMajorVersion(config: CheckedConfig): ConfigProblem[] {
  const major = Number(config.ociVersion.split('.')[0]);
  if (major === SUPPORTED_MAJOR_VERSION) return [];
  return [
    {
      pointer: '/ociVersion',
      message: `unsupported major version ${major} (ocirun supports ${SUPPORTED_MAJOR_VERSION}.x)`,
    },
  ];
}

// config.md, Root: "A directory MUST exist at the path declared by the field."
function checkRootDirectory(config: CheckedConfig, bundleDir: string): ConfigProblem[] {
  const rootPath = path.resolve(bundleDir, config.root.path);
  const pointer = '/root/path';
  try {
    if (statSync(rootPath).isDirectory()) return [];
    return [{ pointer, message: `not a directory: ${rootPath}` }];
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [{ pointer, message: `no such directory: ${rootPath}` }];
    return [{ pointer, message: `cannot check ${rootPath}: ${(error as Error).message}` }];
  }
}

const KNOWN_RLIMITS = new Set<string>(RLIMIT_NAMES);

function checkRlimitTypes(config: CheckedConfig): ConfigProblem[] {
  const rlimits = config.process?.rlimits ?? [];
  return rlimits.flatMap((rlimit, index) =>
    KNOWN_RLIMITS.has(rlimit.type) ? [] : [{ pointer: `/process/rlimits/${index}/type`, message: `unknown rlimit type ${rlimit.type}` }],
  );
}

// config.md, POSIX process: duplicated rlimit types MUST be an error.
function checkDuplicateRlimits(config: CheckedConfig): ConfigProblem[] {
  return repeatedTypes('/process/rlimits', config.process?.rlimits ?? [], 'rlimit');
}

// setrlimit(2) refuses a soft limit above the hard one.
function checkRlimitSoftNotAboveHard(config: CheckedConfig): ConfigProblem[] {
  const rlimits = config.process?.rlimits ?? [];
  return rlimits.flatMap((rlimit, index) =>
    rlimit.soft <= rlimit.hard ? [] : [{ pointer: `/process/rlimits/${index}/soft`, message: `must not exceed hard (${rlimit.hard})` }],
  );
}

/** True when ".." components climb above the directory the path starts from. */
function climbsAboveStart(target: string): boolean {
  let depth = 0;
  for (const component of target.split('/')) {
    if (component === '..') depth -= 1;
    else if (component !== '' && component !== '.') depth += 1;
    if (depth < 0) return true;
  }
  return false;
}

function checkMountDestinations(config: CheckedConfig): ConfigProblem[] {
  return (config.mounts ?? []).flatMap((mount, index) =>
    climbsAboveStart(mount.destination) ? [{ pointer: `/mounts/${index}/destination`, message: 'must not climb above the container root with ".."' }] : [],
  );
}

function findNamespace(config: CheckedConfig, type: string): Namespace | undefined {
  return config.linux?.namespaces?.find((namespace) => namespace.type === type);
}

/** A namespace entry without a path asks for a new namespace (config-linux.md, Namespaces). */
function hasNewNamespace(config: CheckedConfig, type: string): boolean {
  const namespace = findNamespace(config, type);
  return namespace !== undefined && namespace.path === undefined;
}

// config-linux.md, Namespaces: duplicated types MUST be an error.
function checkDuplicateNamespaces(config: CheckedConfig): ConfigProblem[] {
  return repeatedTypes('/linux/namespaces', config.linux?.namespaces ?? [], 'namespace');
}

function checkUserNamespaceMappings(config: CheckedConfig): ConfigProblem[] {
  const mappings = {
    uidMappings: config.linux?.uidMappings ?? [],
    gidMappings: config.linux?.gidMappings ?? [],
  };
  const userNamespace = findNamespace(config, 'user');
  const problems: ConfigProblem[] = [];
  for (const [field, entries] of Object.entries(mappings)) {
    const pointer = `/linux/${field}`;
    if (!userNamespace && entries.length > 0) {
      problems.push({ pointer, message: 'requires a user namespace (a linux.namespaces entry of type "user")' });
    }
    if (userNamespace && userNamespace.path === undefined && entries.length === 0) {
      problems.push({ pointer, message: 'is required when a new user namespace is created' });
    }
  }
  return problems;
}

// Like runc and crun: a name is set in the container's UTS namespace, new or
// joined, never in the runtime's own.
function checkNamesNeedUtsNamespace(config: CheckedConfig): ConfigProblem[] {
  if (findNamespace(config, 'uts')) return [];
  const fields = (['hostname', 'domainname'] as const).filter((field) => config[field]);
  return fields.map((field) => ({
    pointer: `/${field}`,
    message: 'can only be set in a UTS namespace of the container (a linux.namespaces entry of type "uts")',
  }));
}

/** Two fields that both set the same name would leave it to the order they are applied in. */
function checkNamesSetOnce(config: CheckedConfig): ConfigProblem[] {
  const sysctl = config.linux?.sysctl ?? {};
  return (['hostname', 'domainname'] as const).flatMap((field) => {
    const key = Object.keys(sysctl).find((k) => k.replace(/\//g, '.') === `kernel.${field}`);
    if (key === undefined || !config[field]) return [];
    return [{ pointer: childPointer('/linux/sysctl', key), message: `conflicts with /${field}: set the name in one of them` }];
  });
}

// Offsets can only be written before the first process enters a time
// namespace (time_namespaces(7)), so joining one cannot honour them.
function checkTimeOffsetsNeedNewTimeNamespace(config: CheckedConfig): ConfigProblem[] {
  const offsets = config.linux?.timeOffsets ?? {};
  if (Object.keys(offsets).length === 0 || hasNewNamespace(config, 'time')) return [];
  return [
    {
      pointer: '/linux/timeOffsets',
      message: 'requires a new time namespace (a linux.namespaces entry of type "time" without a path)',
    },
  ];
}

// A sysctl outside the container's own namespaces would change the host.
function checkSysctlNamespaces(config: CheckedConfig): ConfigProblem[] {
  return Object.keys(config.linux?.sysctl ?? {}).flatMap((key) => {
    const pointer = childPointer('/linux/sysctl', key);
    const namespace = sysctlNamespace(key);
    if (namespace === undefined) {
      return [{ pointer, message: 'is not allowed: no namespace isolates it, so it would change the host' }];
    }
    if (findNamespace(config, namespace)) return [];
    return [
      {
        pointer,
        message: `is not allowed in the host's ${SYSCTL_NAMESPACE_NAMES[namespace]} namespace (add a linux.namespaces entry of type "${namespace}")`,
      },
    ];
  });
}

// config-linux.md, Devices: path is the "full path to device inside container",
// anywhere in it; a trailing slash is dropped (devicePath in linux/devices.ts).
function checkDevicePaths(config: CheckedConfig): ConfigProblem[] {
  return (config.linux?.devices ?? []).flatMap((device, index) => {
    if (device.path.startsWith('/') && path.posix.normalize(device.path) !== '/') return [];
    return [{ pointer: `/linux/devices/${index}/path`, message: 'must be an absolute path naming a file in the container' }];
  });
}

// config-linux.md, Devices: major and minor are REQUIRED unless type is p
// (a FIFO has no device numbers: they are ignored there, as runc does).
function checkDeviceNumbers(config: CheckedConfig): ConfigProblem[] {
  return (config.linux?.devices ?? []).flatMap((device, index) =>
    (['major', 'minor'] as const).flatMap((field) =>
      device.type !== 'p' && device[field] === undefined
        ? [{ pointer: `/linux/devices/${index}/${field}`, message: `is required for a device of type "${device.type}"` }]
        : [],
    ),
  );
}

/** The only libseccomp actions that carry an errno. */
const ERRNO_ACTIONS = new Set(['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE']);

function errnoWithoutErrnoAction(pointer: string, action: string): ConfigProblem {
  return { pointer, message: `can only be used with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}` };
}

// config-linux.md, Seccomp: "When the action doesn't support an errno, the
// runtime MUST print and error and fail."
function checkSeccompErrnoActions(config: CheckedConfig): ConfigProblem[] {
  const seccomp = config.linux?.seccomp;
  if (!seccomp) return [];
  const problems: ConfigProblem[] = [];
  if (seccomp.defaultErrnoRet !== undefined && !ERRNO_ACTIONS.has(seccomp.defaultAction)) {
    problems.push(errnoWithoutErrnoAction('/linux/seccomp/defaultErrnoRet', seccomp.defaultAction));
  }
  (seccomp.syscalls ?? []).forEach((rule, index) => {
    if (rule.errnoRet !== undefined && !ERRNO_ACTIONS.has(rule.action)) {
      problems.push(errnoWithoutErrnoAction(`/linux/seccomp/syscalls/${index}/errnoRet`, rule.action));
    }
  });
  return problems;
}

/** Every repeated value, with its index and the index of its first occurrence. */
/** A problem for each entry of the list at `base` whose type an earlier entry has. */
function repeatedTypes(base: string, entries: { type: string }[], what: string): ConfigProblem[] {
  const firstIndexOf = new Map<string, number>();
  return entries.flatMap(({ type }, index) => {
    const firstIndex = firstIndexOf.get(type);
    if (firstIndex === undefined) {
      firstIndexOf.set(type, index);
      return [];
    }
    return [{ pointer: `${base}/${index}/type`, message: `duplicate ${what} type ${type} (also at ${base}/${firstIndex})` }];
  });
}

/** In document order, so that problems come out in the order of config.md. */
const SEMANTIC_CHECKS: SemanticCheck[] = [
  checkMajorVersion,
  checkRootDirectory,
  checkMountDestinations,
  checkRlimitTypes,
  checkDuplicateRlimits,
  checkRlimitSoftNotAboveHard,
  checkNamesNeedUtsNamespace,
  checkDuplicateNamespaces,
  checkUserNamespaceMappings,
  checkTimeOffsetsNeedNewTimeNamespace,
  checkDevicePaths,
  checkDeviceNumbers,
  checkSysctlNamespaces,
  checkNamesSetOnce,
  checkSeccompErrnoActions,
];
