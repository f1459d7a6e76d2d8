// The command lines engines send on every container operation, read straight
// from cli/commands.ts without loading commander (which costs more than the
// command itself). Only plain, valid input is read here: every token it does
// not fully understand (help, --version, `--`, bundled short flags, a bad
// value, a missing or extra argument, exec and ps) makes it return undefined,
// and commander parses that command line, so help and errors stay commander's.
import { globalsFrom, type Globals } from './globals.js';
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from './commands.js';
import { OciError } from '../errors.js';

export interface Selected {
  name: string;
  args: string[];
  options: Record<string, unknown>;
  globals: Globals;
}

interface ParsedFlag {
  short?: string;
  long: string;
  /** commander's attribute name: --pid-file → pidFile, --no-pivot → pivot. */
  key: string;
  takesValue: boolean;
  negate: boolean;
  spec: OptionSpec;
}

function parseFlags(spec: OptionSpec): ParsedFlag {
  const m = /^(?:(-\w), )?(--[\w-]+)(?: <[^>]+>)?$/.exec(spec.flags);
  if (!m) throw new OciError('internal', `commands.ts: unsupported flags ${spec.flags}`);
  const negate = m[2].startsWith('--no-');
  const name = negate ? m[2].slice(5) : m[2].slice(2);
  return {
    short: m[1],
    long: m[2],
    key: name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()),
    takesValue: spec.flags.endsWith('>'),
    negate,
    spec,
  };
}

/** Reads `--name value`, `--name=value`, `-n value` and `--flag` options; undefined for anything else. */
function readOptions(
  tokens: string[],
  start: number,
  specs: OptionSpec[],
  stopAtOperand: boolean,
): { values: Record<string, unknown>; operands: string[]; next: number } | undefined {
  const flags = specs.map(parseFlags);
  const values: Record<string, unknown> = {};
  for (const f of flags) {
    if (f.spec.default !== undefined) values[f.key] = f.spec.default;
    else if (f.negate) values[f.key] = true;
  }
  const operands: string[] = [];
  let i = start;
  for (; i < tokens.length; i++) {
    const token = tokens[i];
    if (!token.startsWith('-') || token === '-') {
      if (stopAtOperand) break;
      operands.push(token);
      continue;
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const name = eq > 0 ? token.slice(0, eq) : token;
    const flag = flags.find((f) => f.long === name || f.short === name);
    if (!flag || flag.spec.repeatable) return undefined;
    if (!flag.takesValue) {
      if (eq > 0) return undefined;
      values[flag.key] = !flag.negate;
      continue;
    }
    let value: string | undefined;
    if (eq > 0) value = token.slice(eq + 1);
    else value = tokens[++i];
    if (value === undefined || value.startsWith('-')) return undefined;
    if (flag.spec.choices && !flag.spec.choices.includes(value)) return undefined;
    values[flag.key] = value;
  }
  return { values, operands, next: i };
}

function argumentCounts(spec: CommandSpec): [number, number] | undefined {
  const names = (spec.arguments ?? []).map((a) => a.name);
  if (names.some((n) => n.endsWith('...>') || n.endsWith('...]'))) return undefined;
  return [names.filter((n) => n.startsWith('<')).length, names.length];
}

/** The command a plain command line selects, or undefined to leave it to commander. */
export function parseCommonArgv(argv: string[]): Selected | undefined {
  const global = readOptions(argv, 0, GLOBAL_OPTIONS, true);
  if (!global) return undefined;
  const name = argv[global.next];
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!spec || spec.passThroughOptions || spec.allowUnknownOption) return undefined;
  const counts = argumentCounts(spec);
  const local = readOptions(argv, global.next + 1, spec.options ?? [], false);
  if (!counts || !local || local.operands.length < counts[0] || local.operands.length > counts[1]) return undefined;
  return { name, args: local.operands, options: local.values, globals: globalsFrom(global.values) };
}
