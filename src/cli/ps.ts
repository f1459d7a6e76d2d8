// `ps [--format table|json] ID [ps options]`: the container's processes. json
// is a bare array of host pids; table runs the host's ps(1) with the options
// (default -ef) and keeps its header and the container's lines, as runc does.
import { spawnSync } from 'node:child_process';
import { OciError } from '../errors.js';
import type { Globals } from './globals.js';
import { openContainer } from '../lifecycle/container.js';
import { containerPids } from '../lifecycle/query.js';
import { storeFor, writeOut } from './options.js';

export function filterPsOutput(output: string, pids: number[]): string {
  const lines = output.split('\n');
  const pidColumn = lines[0].trim().split(/\s+/).indexOf('PID');
  if (pidColumn < 0) throw new OciError('usage', 'ps: its output has no PID column (pass options that keep it, e.g. -o pid,comm)');
  const wanted = new Set(pids);
  const kept = [lines[0]];
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    const pid = Number(line.trim().split(/\s+/)[pidColumn]);
    if (!Number.isInteger(pid)) throw new OciError('system', `ps: cannot read a pid in ${JSON.stringify(line)}`);
    if (wanted.has(pid)) kept.push(line);
  }
  return `${kept.join('\n')}\n`;
}

export default function ps(globals: Globals, args: string[], o: Record<string, unknown>): number {
  const [id, ...psArgs] = args;
  const pids = containerPids(openContainer(storeFor(globals), id).state);
  if (o.format === 'json') {
    writeOut(`${JSON.stringify(pids)}\n`);
    return 0;
  }
  const r = spawnSync('ps', psArgs.length > 0 ? psArgs : ['-ef'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new OciError('system', `ps: cannot run ps: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
  if (r.status !== 0) throw new OciError('usage', `ps ${psArgs.join(' ')}: exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  writeOut(filterPsOutput(r.stdout, pids));
  return 0;
}
