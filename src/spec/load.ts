import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { OciError, wrap } from '../errors.js';
import type { Spec } from './types.js';
import { formatProblems, validateConfig } from './validate.js';

export interface Bundle {
  dir: string;
  config: Spec;
  rootfs: string;
}

/**
 * Reads and validates <bundle>/config.json; every problem is one line of the
 * error. `rewrite` may change the parsed config.json before it is validated
 * (create --share).
 */
export function loadBundle(bundleArg: string, rewrite?: (raw: unknown) => void): Bundle {
  const dir = path.resolve(bundleArg);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new OciError('invalid-bundle', `--bundle: ${dir}: no such directory`);
  const configPath = path.join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new OciError('invalid-bundle', `${configPath}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw wrap(err, 'config.json: not valid JSON', { code: 'invalid-config' });
  }
  rewrite?.(raw);
  const problems = validateConfig(raw, dir);
  if (problems.length > 0) {
    const lines = formatProblems(problems);
    throw new OciError('invalid-config', lines[0], lines.slice(1));
  }
  const config = raw as Spec;
  return { dir, config, rootfs: path.resolve(dir, config.root.path) };
}
