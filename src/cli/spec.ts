import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import type { Globals } from './globals.js';
import { defaultSpec } from '../spec/default-spec.js';
import { createNewFile } from '../sys/caller-paths.js';

export default function spec(_globals: Globals, _args: string[], o: Record<string, unknown>): number {
  const bundle = path.resolve(String(o.bundle ?? '.'));
  if (!existsSync(bundle) || !statSync(bundle).isDirectory()) {
    throw new OciError('invalid-bundle', `--bundle: ${bundle}: no such directory`);
  }
  const target = path.join(bundle, 'config.json');
  try {
    createNewFile(target, `${JSON.stringify(defaultSpec({ rootless: !!o.rootless }), null, '\t')}\n`, 0o666);
  } catch (err) {
    // a symlink there too: it is never followed
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new OciError('usage', `${target} exists: remove it first`);
    throw err;
  }
  return 0;
}
