// A containerd of a test's own: its config, root, state and socket in
// `scratch`, the CRI plugin off. ctr(...) talks to it in `namespace`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './ocirun.js';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function startContainerd(scratch: string, timeoutMs = 20_000): ChildProcess {
  const config = path.join(scratch, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${scratch}/root"`,
      `state = "${scratch}/state"`,
      '[grpc]',
      `  address = "${scratch}/containerd.sock"`,
      '[ttrpc]',
      `  address = "${scratch}/containerd.sock.ttrpc"`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  disable = true',
      '',
    ].join('\n'),
  );
  const containerd = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'ignore'] });
  waitFor(() => existsSync(path.join(scratch, 'containerd.sock')), 'containerd to listen', timeoutMs);
  return containerd;
}

/** `ctr` against the containerd of `scratch`, in `namespace`. */
export function ctrIn(scratch: string, namespace: string, args: string[], input?: string, timeoutMs = 60_000): Result {
  const r = spawnSync('ctr', ['--address', path.join(scratch, 'containerd.sock'), '--namespace', namespace, ...args], {
    encoding: 'utf8',
    input,
    timeout: timeoutMs,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
