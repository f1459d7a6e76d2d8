// linux.resources.devices: the device rules a container gets, and what they
// amount to. The kernel's v1 devices controller is the reference for what a
// list of rules means (Documentation/admin-guide/cgroup-v1/devices.rst): a
// rule for every device ("a") resets the cgroup to allow-all or deny-all;
// other rules add exceptions to that default or take access away from an
// exception with the same type and numbers. The same result drives the v1
// devices.allow/devices.deny writes and the v2 eBPF program, so both versions
// behave alike.
import { OciError } from '../errors.js';
import type { DeviceRule } from './types.js';

export type DeviceType = 'a' | 'b' | 'c';

/** A rule with nothing left implicit: -1 is "every major/minor", access is a subset of "rwm" in that order. */
export interface Rule {
  allow: boolean;
  type: DeviceType;
  major: number;
  minor: number;
  access: string;
}

const ACCESS_ORDER = 'rwm';

function accessOf(chars: Iterable<string>): string {
  const set = new Set(chars);
  return [...ACCESS_ORDER].filter((c) => set.has(c)).join('');
}

export function normalizeRule(r: DeviceRule): Rule {
  return {
    allow: r.allow,
    type: (r.type ?? 'a') as DeviceType,
    major: r.major ?? -1,
    minor: r.minor ?? -1,
    // The spec makes access optional; unset means every access, as for type and numbers.
    access: accessOf(r.access ?? ACCESS_ORDER),
  };
}

const allowChar = (major: number, minor: number, access = 'rwm'): Rule => ({ allow: true, type: 'c', major, minor, access });

/**
 * What every container may use whatever its config says, as runc has it: mknod
 * of any node (the runtime creates /dev itself), the default devices of the
 * spec (config-linux.md "Default Devices"), /dev/pts/* and /dev/ptmx.
 */
export const DEFAULT_ALLOWED: readonly Rule[] = [
  allowChar(-1, -1, 'm'),
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  allowChar(1, 3), // /dev/null
  allowChar(1, 8), // /dev/random
  allowChar(1, 7), // /dev/full
  allowChar(5, 0), // /dev/tty
  allowChar(1, 5), // /dev/zero
  allowChar(1, 9), // /dev/urandom
  allowChar(136, -1), // /dev/pts/*
  allowChar(5, 2), // /dev/ptmx
];

const sameDevice = (a: Rule, b: Rule) => a.type === b.type && a.major === b.major && a.minor === b.minor;

/**
 * The config's rules in order, then the default allowed devices. runc appends
 * the defaults unchanged, so a config cannot take /dev/null away; here a
 * default loses the access that the config denies for that very device (same
 * type and numbers, not a wildcard), so `deny c 1:3 r` makes /dev/null
 * unreadable while a leading `deny a` still leaves every default usable.
 */
export function effectiveRules(config: DeviceRule[] | undefined): Rule[] {
  const rules = (config ?? []).map(normalizeRule);
  const defaults: Rule[] = [];
  for (const d of DEFAULT_ALLOWED) {
    const denied = new Set<string>();
    for (const r of rules) {
      if (!sameDevice(r, d)) continue;
      for (const c of r.access) {
        if (r.allow) denied.delete(c);
        else denied.add(c);
      }
    }
    const access = accessOf([...d.access].filter((c) => !denied.has(c)));
    if (access) defaults.push({ ...d, access });
  }
  return [...rules, ...defaults];
}

/** The state of a devices cgroup: its default, and the exceptions to it. */
export interface DeviceState {
  defaultAllow: boolean;
  exceptions: Rule[];
}

const key = (r: Rule) => `${r.type} ${r.major}:${r.minor}`;

/**
 * Applies rules the way the v1 kernel does, starting from deny-all. One
 * difference, as in runc: taking access away inside a broader exception (deny
 * c 1:3 after allow c 1:*) is an error, because v1 would silently ignore it.
 */
export function emulate(rules: Rule[], field = 'linux.resources.devices', configCount = rules.length): DeviceState {
  let defaultAllow = false;
  let exceptions = new Map<string, Rule>();
  rules.forEach((rule, i) => {
    if (rule.type === 'a') {
      defaultAllow = rule.allow;
      exceptions = new Map();
      return;
    }
    if (rule.allow !== defaultAllow) {
      // An exception to the default: add (merge the access).
      const old = exceptions.get(key(rule));
      exceptions.set(key(rule), { ...rule, access: accessOf([...(old?.access ?? ''), ...rule.access]) });
      return;
    }
    // Same as the default: take access away from the exact exception.
    for (const wider of [
      { ...rule, major: -1 },
      { ...rule, minor: -1 },
      { ...rule, major: -1, minor: -1 },
    ]) {
      if (sameDevice(wider, rule)) continue;
      const cover = exceptions.get(key(wider));
      if (cover && [...rule.access].some((c) => cover.access.includes(c))) {
        throw new OciError(
          'invalid-config',
          `${i < configCount ? `${field}[${i}]` : `${field} (with the default rule ${describe(rule)})`}: cannot ${rule.allow ? 'allow' : 'deny'} ${v1Line(rule)} inside the broader rule ${describe(cover)}: ` +
            'cgroups cannot make a hole in a wildcard rule',
        );
      }
    }
    const old = exceptions.get(key(rule));
    if (!old) return;
    const access = accessOf([...old.access].filter((c) => !rule.access.includes(c)));
    if (access) exceptions.set(key(rule), { ...old, access });
    else exceptions.delete(key(rule));
  });
  // In the order they were first added, as the kernel keeps them (devices.list
  // shows them so, and the conformance suite reads the config's rules back in order).
  return { defaultAllow, exceptions: [...exceptions.values()].map((r) => ({ ...r, allow: !defaultAllow })) };
}

export function describe(r: Rule): string {
  return `${r.allow ? 'allow' : 'deny'} ${v1Line(r)}`;
}

/** A rule as devices.allow/devices.deny take it: "c 1:3 rwm", "a *:* rwm". */
export function v1Line(r: Rule): string {
  const n = (x: number) => (x < 0 ? '*' : String(x));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access}`;
}

/** The writes that put a fresh (allow-all) v1 devices cgroup into `state`: [file, line] pairs. */
export function v1Writes(state: DeviceState): [string, string][] {
  const writes: [string, string][] = [[state.defaultAllow ? 'devices.allow' : 'devices.deny', 'a *:* rwm']];
  for (const r of state.exceptions) writes.push([r.allow ? 'devices.allow' : 'devices.deny', v1Line(r)]);
  return writes;
}
