// containerd with the systemd cgroup driver on a cgroup v2 host with systemd
// as PID 1 (run in the guest by `npm run test:vm`; skipped elsewhere): ctr
// imports an image made here from busybox, and runs it through the runc v2
// shim with bin/ocirun as its runc binary and SystemdCgroup set (ctr's
// --runc-binary and --runc-systemd-cgroup are those two shim options; the CRI
// plugin's runtime config sets the same for Kubernetes). The container is a
// transient scope systemd knows, with MemoryMax from --memory-limit, and the
// shim's metrics read its cgroup.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN, buildRootfs } from '../../fixtures/bundle.mjs';
import { ctrIn, startContainerd } from '../helpers/containerd.js';
import { isRoot, waitFor } from '../helpers/ocirun.js';

const systemdIsInit = (() => {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
  } catch {
    return false;
  }
})();
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const runs = isRoot && systemdIsInit && have('containerd') && have('ctr') && have('containerd-shim-runc-v2');

const scratch = mkdtempSync(path.join(os.tmpdir(), 'ocirun-vm-containerd-'));
const namespace = `ocirun-vm-${process.pid}`;
const IMAGE = 'docker.io/library/ocirun-busybox:test';
let containerd: ChildProcess | undefined;

function ctr(args: string[]) {
  return ctrIn(scratch, namespace, args, undefined, 120_000);
}

function ctrOk(args: string[]): string {
  const r = ctr(args);
  if (r.code !== 0) throw new Error(`ctr ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A docker-archive image (manifest.json, config, one uncompressed layer) of a busybox root filesystem. */
function buildImage(): string {
  const dir = path.join(scratch, 'image');
  const rootfs = path.join(scratch, 'image-rootfs');
  mkdirSync(dir);
  buildRootfs(rootfs);
  const layer = path.join(dir, 'layer.tar');
  execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', layer, '.']);
  const diffId = `sha256:${createHash('sha256').update(readFileSync(layer)).digest('hex')}`;
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
  });
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  writeFileSync(path.join(dir, configName), config);
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [IMAGE], Layers: ['layer.tar'] }]));
  const archive = path.join(scratch, 'image.tar');
  execFileSync('tar', ['-C', dir, '-cf', archive, 'manifest.json', configName, 'layer.tar']);
  return archive;
}

beforeAll(() => {
  if (!runs) return;
  containerd = startContainerd(scratch, 60_000);
  ctrOk(['image', 'import', '--snapshotter', 'native', buildImage()]);
}, 180_000);

afterAll(async () => {
  if (containerd) {
    for (const id of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      ctr(['task', 'delete', '--force', id]);
      ctr(['container', 'delete', id]);
    }
    ctr(['image', 'rm', IMAGE]);
    ctr(['namespace', 'remove', namespace]);
    const stopped = new Promise((resolve) => containerd!.once('exit', resolve));
    containerd.kill('SIGTERM');
    await stopped;
    rmSync(`/run/containerd/runc/${namespace}`, { recursive: true, force: true });
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!runs)('containerd (runc v2 shim, SystemdCgroup, bin/ocirun) with systemd as PID 1', () => {
  it('ctr run --memory-limit: a systemd scope with MemoryMax, and task metrics report its memory', () => {
    const id = 'sd-memory';
    const unit = `ocirun-ctr-${id}.scope`;
    ctrOk([
      'run',
      '-d',
      '--runc-binary',
      OCIRUN_BIN,
      '--runc-systemd-cgroup',
      '--cgroup',
      `system.slice:ocirun-ctr:${id}`,
      '--memory-limit',
      String(64 << 20),
      '--snapshotter',
      'native',
      IMAGE,
      id,
      'sh',
      '-c',
      'echo started > /tmp/started; sleep 987',
    ]);
    const line = ctrOk(['task', 'ls'])
      .split('\n')
      .find((l) => l.startsWith(`${id} `));
    expect(line?.trim().split(/\s+/)[2]).toBe('RUNNING');
    const pid = Number(line!.trim().split(/\s+/)[1]);
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(`0::/system.slice/${unit}\n`);
    const show = execFileSync('systemctl', ['show', unit, '-p', 'ActiveState,Slice,Delegate,MemoryMax'], { encoding: 'utf8' });
    expect(show.trim().split('\n').sort()).toEqual(['ActiveState=active', 'Delegate=yes', `MemoryMax=${64 << 20}`, 'Slice=system.slice']);
    expect(readFileSync(`/sys/fs/cgroup/system.slice/${unit}/memory.max`, 'utf8')).toBe(`${64 << 20}\n`);
    const metrics = ctrOk(['task', 'metrics', id]);
    expect(metrics).toMatch(new RegExp(`memory\\.usage_limit\\s+${64 << 20}\\b`));
    expect(Number(/memory\.usage\s+(\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(ctrOk(['task', 'exec', '--exec-id', 'cat', id, 'cat', '/tmp/started'])).toBe('started\n');
    ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
    waitFor(
      () =>
        !ctrOk(['task', 'ls'])
          .split('\n')
          .some((l) => l.startsWith(`${id} `) && /RUNNING/.test(l)),
      'the task to stop',
      30_000,
    );
    ctrOk(['task', 'delete', id]);
    ctrOk(['container', 'delete', id]);
    expect(execFileSync('systemctl', ['show', unit, '-p', 'ActiveState'], { encoding: 'utf8' }).trim()).toBe('ActiveState=inactive');
    expect(existsSync(`/sys/fs/cgroup/system.slice/${unit}`)).toBe(false);
  }, 180_000);
});
