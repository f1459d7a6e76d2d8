// The global options every command gets (--root, --log, ...), from the values
// cli/argv.ts or commander read for the flags in cli/commands.ts.
import { OciError } from '../errors.js';

export interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
}

const invalid = (flag: string, expected: string) => new OciError('usage', `invalid global option: ${flag} must be ${expected}`);

/** The global options from parsed flag values, keyed by commander's attribute names (--log-format → logFormat). */
export function globalsFrom(values: Record<string, unknown>): Globals {
  const { root, log, logFormat } = values;
  if (typeof root !== 'string') throw invalid('--root', 'a directory');
  if (log !== undefined && typeof log !== 'string') throw invalid('--log', 'a file');
  if (logFormat !== 'text' && logFormat !== 'json') throw invalid('--log-format', 'text or json');
  return { root, log, logFormat, debug: !!values.debug, systemdCgroup: !!values.systemdCgroup };
}
