import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OciError } from '../errors.js';
import type { Globals } from '../main.js';
import { defaultSpec } from '../spec/default-spec.js';

export default function spec(_globals: Globals, _args: string[], o: Record<string, unknown>): number {
  const bundle = path.resolve(String(o.bundle ?? '.'));
  if (!existsSync(bundle) || !statSync(bundle).isDirectory()) {
    throw new OciError('invalid-bundle', `--bundle: ${bundle}: no such directory`);
  }
  const target = path.join(bundle, 'config.json');
  if (existsSync(target)) throw new OciError('usage', `${target} exists: remove it first`);
  writeFileSync(target, `${JSON.stringify(defaultSpec({ rootless: !!o.rootless }), null, '\t')}\n`, { mode: 0o666 });
  return 0;
}
