// The runtime's binary against CVE-2019-5736: a container that gets hold of
// the binary a container process starts as (the host's `node`, since the
// init and exec'd processes are forks of the runtime) keeps a handle on it
// and, once no process runs it any more, reopens it for writing.
//
// ocirun runs here from a private copy of node, which nothing else on the
// host runs: once the container's process is gone, the kernel's "text file
// busy" no longer stands in the way, and only the runtime's protection
// does. The attacks still write nothing (an open for appending, no write),
// and the copy's hash is checked afterwards.
import { spawnSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, openSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCIRUN_BIN } from '../../fixtures/bundle.mjs';
import { Runtime, bundleWithOutbox, isRoot, uniqueId, waitFor, type BundleConfig, type Result } from '../helpers/ocirun.js';

const rt = new Runtime();
const nodeCopy = rt.scratchPath('runtime-bin/node');
let copyHash = '';

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** ocirun, run by the private copy of node. */
function ocirun(args: string[]): Result {
  // The flags of bin/ocirun's shebang, which names node through env(1).
  const flags = readFileSync(OCIRUN_BIN, 'utf8').split('\n')[0].split(' node ')[1].split(' ');
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  // Into files: a detached container keeps the runtime's stdout and stderr open.
  const out = rt.scratchPath(`out-${uniqueId()}`);
  const fds = [openSync(out, 'w'), openSync(`${out}.err`, 'w')];
  try {
    const r = spawnSync(nodeCopy, [...flags, OCIRUN_BIN, '--root', rt.root, ...args], { stdio: ['ignore', ...fds], env, timeout: 30_000 });
    return { code: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(`${out}.err`, 'utf8') };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
function ok(args: string[]): Result {
  const r = ocirun(args);
  if (r.code !== 0) throw new Error(`ocirun ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

beforeAll(() => {
  if (!isRoot) return;
  mkdirSync(path.dirname(nodeCopy));
  copyFileSync(process.execPath, nodeCopy);
  chmodSync(nodeCopy, 0o755);
  copyHash = sha256(nodeCopy);
});
afterAll(() => {
  for (const id of rt.containerIds()) ocirun(['delete', '--force', id]);
  rt.dispose();
});

/**
 * The attacker inside the container, holding the binary on fd 3 (what the
 * CVE's loader did with an O_PATH fd): it tries to open it for writing while
 * the process it came from runs, then waits for that process to end (and for
 * the runtime's own processes, which run the same copy) and tries again.
 * Each try opens for appending and writes nothing; the rootfs is read-only,
 * so everything goes to /out.
 */
const ATTACK = `#!/bin/sh
try() { (: >> /proc/self/fd/3) 2>&1 && echo writable; }
try > /out/while-running.tmp; mv /out/while-running.tmp /out/while-running
while [ -e /proc/$1/exe ]; do usleep 20000; done
i=0
while r=$(try); echo "$r" | grep -q busy && [ $i -lt 250 ]; do i=$((i+1)); usleep 20000; done
echo "$r" > /out/after.tmp; mv /out/after.tmp /out/after
`;

/**
 * What `#!/proc/self/exe` runs: the runtime's binary, node, here executing
 * this very file as JavaScript. It records what /proc/self/exe is, hands its
 * own binary to the attacker and ends once the attacker has tried once.
 */
const EVIL = `#!/proc/self/exe
const fs = require('fs');
fs.writeFileSync('/out/exe', fs.readlinkSync('/proc/self/exe'));
const held = fs.openSync('/proc/self/exe', 'r');
require('child_process').spawn('/bin/sh', ['/attack', String(process.pid)], { stdio: ['ignore', 'ignore', 'ignore', held], detached: true }).unref();
while (!fs.existsSync('/out/while-running')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
`;

/** Node's shared libraries and loader, copied into the rootfs so that node can run there. */
function installNodeLibraries(rootfs: string): void {
  const ldd = execFileSync('ldd', [nodeCopy], { encoding: 'utf8' });
  for (const lib of ldd.matchAll(/(\/\S+) \(0x/g)) {
    mkdirSync(path.join(rootfs, path.dirname(lib[1])), { recursive: true });
    copyFileSync(lib[1], path.join(rootfs, lib[1]));
  }
}

function writeScript(rootfs: string, name: string, text: string): void {
  const file = path.join(rootfs, name);
  rmSync(file, { force: true });
  writeFileSync(file, text, { mode: 0o755 });
}

/** Waits for the attacker's verdict: what the open for writing gave while the binary ran, and after. */
function verdict(out: (name: string) => string): { whileRunning: string; after: string } {
  waitFor(() => out('after') !== '', 'the attacker', 15_000);
  return { whileRunning: out('while-running').trim(), after: out('after').trim() };
}

const readOnly = /Read-only file system/;

/** A running container (detached) whose rootfs has the attacker, and node's libraries and the #!/proc/self/exe script when `evil`. */
function startAttackable(script: string, evil: boolean, mutate?: (c: BundleConfig) => void): { id: string; out: (name: string) => string } {
  const { bundle, out } = bundleWithOutbox(rt, script, mutate);
  rt.track(bundle);
  if (evil) {
    installNodeLibraries(bundle.rootfs);
    writeScript(bundle.rootfs, 'evil', EVIL);
  }
  writeScript(bundle.rootfs, 'attack', ATTACK);
  const id = uniqueId('exe');
  ok(['run', '-d', '--bundle', bundle.dir, id]);
  return { id, out };
}

describe.skipIf(!isRoot)("the runtime's binary cannot be written from a container (CVE-2019-5736)", () => {
  it('an entrypoint starting #!/proc/self/exe runs a binary no one can open for writing', () => {
    const { id, out } = startAttackable('true', true, (c) => {
      c.process.args = ['/evil'];
      // Shared with the host's, so that the attacker outlives the container's
      // process 1 (as the CVE's attacker did by exec'ing over it).
      c.linux.namespaces = c.linux.namespaces.filter((ns) => ns.type !== 'pid');
    });
    const seen = verdict(out);
    ok(['delete', '-f', id]);
    expect(seen.after).toMatch(readOnly);
    expect(seen.whileRunning).toMatch(readOnly);
    expect(out('exe')).not.toBe(nodeCopy);
  });

  it('nor through exec of a binary the container replaced', () => {
    const { id, out } = startAttackable('rm /bin/hostname; cp /evil /bin/hostname; echo > /out/ready; exec sleep 1000', true, (c) => {
      c.root.readonly = false;
    });
    waitFor(() => out('ready') !== '', 'the container');
    ok(['exec', id, 'hostname']);
    const seen = verdict(out);
    ok(['delete', '-f', id]);
    expect(seen.after).toMatch(readOnly);
    expect(seen.whileRunning).toMatch(readOnly);
  });

  it('nor by a container with CAP_SYS_PTRACE through /proc/<pid>/exe of an init waiting in its pid namespace', () => {
    const { id: aId, out } = startAttackable('echo > /out/ready; exec sleep 1000', false, (c) => {
      for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities![set]!.push('CAP_SYS_PTRACE');
    });
    waitFor(() => out('ready') !== '', 'the container');
    const aPid = JSON.parse(ok(['state', aId]).stdout).pid;
    const b = rt.bundle(['true'], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((ns) => ns.type !== 'pid');
      c.linux.namespaces.push({ type: 'pid', path: `/proc/${aPid}/ns/pid` });
    });
    const bId = uniqueId('waiting');
    ok(['create', '--bundle', b.dir, bId]);
    const bPid = JSON.parse(ok(['state', bId]).stdout).pid;
    const nsPid = /^NSpid:\s+\d+\s+(\d+)$/m.exec(readFileSync(`/proc/${bPid}/status`, 'utf8'))![1];
    ok(['exec', '-d', aId, 'sh', '-c', `exec 3< /proc/${nsPid}/exe && exec sh /attack ${nsPid}`]);
    waitFor(() => out('while-running') !== '', 'the attacker');
    ok(['delete', '-f', bId]);
    const seen = verdict(out);
    ok(['delete', '-f', aId]);
    expect(seen.after).toMatch(readOnly);
    expect(seen.whileRunning).toMatch(readOnly);
  });

  it("leaves the runtime's binary as it was", () => {
    expect(sha256(nodeCopy)).toBe(copyHash);
  });
});
