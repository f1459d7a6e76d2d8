#!/usr/bin/env node
// Runs test files inside a QEMU guest that has what most hosts of ocirun have
// and this one may not: cgroup v2 alone, and systemd as PID 1. The guest boots
// the host's kernel package with the host's root filesystem, read-only over
// 9p under a tmpfs overlay, so the checkout, node and node_modules are simply
// there; the results come back through a second, writable 9p share.
//
//   node test/vm/run.mjs [test files...]     (default: VM_TESTS below)
//
// Environment: OCIRUN_VM_KERNEL (a vmlinuz; default the newest in /boot),
// OCIRUN_VM_ACCEL (tcg, the default, or kvm), OCIRUN_VM_TIMEOUT (seconds,
// default 900), OCIRUN_VM_CACHE (where the initramfs is kept).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

/** What runs in the guest when no files are named: the tests that need a cgroup v2 host or systemd. */
const VM_TESTS = ['test/vm/cgroup-v2.test.ts', 'test/vm/systemd.test.ts', 'test/vm/containerd.test.ts'];

/** Loaded in this order by the initramfs: virtio PCI, 9p over virtio, overlayfs, and an entropy source. */
const MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'netfs',
  'fscache',
  '9pnet',
  '9pnet_virtio',
  '9p',
  'overlay',
  'virtio-rng',
];

const started = Date.now();
const say = (msg) => console.log(`vm [${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${msg}`);
const die = (msg) => {
  console.error(`vm: ${msg}`);
  process.exit(2);
};

function kernel() {
  if (process.env.OCIRUN_VM_KERNEL) return process.env.OCIRUN_VM_KERNEL;
  const found = existsSync('/boot')
    ? readdirSync('/boot')
        .filter((n) => /^vmlinuz-/.test(n))
        .sort()
    : [];
  if (found.length === 0) die('no kernel in /boot (apt-get install linux-image-amd64, or set OCIRUN_VM_KERNEL)');
  return path.join('/boot', found[found.length - 1]);
}

function findModule(dir, name) {
  const want = new Set([`${name}.ko`, `${name.replace(/-/g, '_')}.ko`]);
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        const r = walk(p);
        if (r) return r;
      } else if (want.has(e.name)) return p;
    }
    return null;
  };
  return walk(dir);
}

/** The initramfs for this kernel, made once and kept: busybox, the modules, /init and the systemd units. */
function initramfs(vmlinuz) {
  const version = path.basename(vmlinuz).replace(/^vmlinuz-/, '');
  const moduleDir = path.join('/lib/modules', version, 'kernel');
  if (!existsSync(moduleDir)) die(`no modules for ${version} in /lib/modules`);
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) die('busybox is missing (apt-get install busybox-static)');
  const sources = ['init.sh', 'ocirun-vm.service', 'ocirun-vm.target'].map((f) => readFileSync(path.join(here, f)));
  const key = createHash('sha256').update(version).update(MODULES.join(',')).update(Buffer.concat(sources)).digest('hex').slice(0, 16);
  const cacheDir = process.env.OCIRUN_VM_CACHE ?? path.join(os.homedir(), '.cache', 'ocirun-vm');
  const image = path.join(cacheDir, `initramfs-${version}-${key}.cpio`);
  if (existsSync(image)) return image;
  say(`building the initramfs for ${version}`);
  const tree = mkdtempSync(path.join(os.tmpdir(), 'ocirun-vm-initramfs-'));
  try {
    for (const d of ['bin', 'proc', 'sys', 'dev', 'modules', 'units']) mkdirSync(path.join(tree, d));
    copyFileSync(busybox, path.join(tree, 'bin/busybox'));
    chmodSync(path.join(tree, 'bin/busybox'), 0o755);
    const order = [];
    for (const m of MODULES) {
      const file = findModule(moduleDir, m);
      if (!file) die(`module ${m} not found under ${moduleDir}`);
      copyFileSync(file, path.join(tree, 'modules', `${m}.ko`));
      order.push(m);
    }
    writeFileSync(path.join(tree, 'modules/order'), `${order.join('\n')}\n`);
    writeFileSync(path.join(tree, 'init'), sources[0], { mode: 0o755 });
    writeFileSync(path.join(tree, 'units/ocirun-vm.service'), sources[1]);
    writeFileSync(path.join(tree, 'units/ocirun-vm.target'), sources[2]);
    mkdirSync(cacheDir, { recursive: true });
    const r = spawnSync('sh', ['-c', `find . | cpio -o -H newc --quiet > ${JSON.stringify(`${image}.tmp`)}`], { cwd: tree, stdio: 'inherit' });
    if (r.status !== 0) die('cpio failed (apt-get install cpio)');
    spawnSync('mv', [`${image}.tmp`, image]);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  return image;
}

/** The guest's job: say where it runs, then run the test files against this checkout. */
function jobScript(files) {
  const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `set -u
out=/mnt/ocirun-vm
echo "ocirun-vm: guest kernel $(uname -r); PID 1 is $(cat /proc/1/comm); /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup); controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "ocirun-vm: systemd $(systemctl --version | head -1 | cut -d' ' -f2), system state $(systemctl is-system-running 2>/dev/null)"
cd ${q(repoRoot)}
set -o pipefail
node_modules/.bin/vitest run --reporter=verbose ${files.map(q).join(' ')} 2>&1 | tee "$out/log"
status=$?
echo "$status" > "$out/status"
sync
echo "ocirun-vm: tests exited $status"
`;
}

const files = process.argv.slice(2).length ? process.argv.slice(2) : VM_TESTS;
for (const f of files) if (!existsSync(path.join(repoRoot, f))) die(`no such test file: ${f}`);
if (!existsSync(path.join(repoRoot, 'dist/ocirun.cjs'))) die('dist/ is missing: run node scripts/build.mjs first');
const qemu = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' }).stdout.trim();
if (!qemu) die('qemu-system-x86_64 is missing (apt-get install qemu-system-x86)');

const vmlinuz = kernel();
const image = initramfs(vmlinuz);
const results = mkdtempSync(path.join(os.tmpdir(), 'ocirun-vm-results-'));
writeFileSync(path.join(results, 'job.sh'), jobScript(files));

const accel = process.env.OCIRUN_VM_ACCEL ?? 'tcg';
const timeoutSec = Number(process.env.OCIRUN_VM_TIMEOUT ?? 900);
const append = [
  'console=ttyS0',
  'quiet',
  'loglevel=3',
  'panic=-1',
  // cgroup v2 alone, as on a host where systemd mounts only the unified hierarchy
  'cgroup_no_v1=all',
  'systemd.unified_cgroup_hierarchy=1',
  'systemd.unit=ocirun-vm.target',
  'systemd.show_status=false',
  'systemd.log_level=warning',
].join(' ');
const args = [
  '-accel',
  accel === 'kvm' ? 'kvm' : 'tcg,thread=multi',
  '-cpu',
  accel === 'kvm' ? 'host' : 'max',
  '-smp',
  String(Math.min(2, os.cpus().length)),
  '-m',
  '3072',
  '-kernel',
  vmlinuz,
  '-initrd',
  image,
  '-append',
  append,
  '-virtfs',
  'local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap',
  '-virtfs',
  `local,path=${results},mount_tag=results,security_model=passthrough`,
  '-device',
  'virtio-rng-pci',
  '-nic',
  'none',
  '-display',
  'none',
  '-monitor',
  'none',
  '-serial',
  'stdio',
  '-no-reboot',
];
say(`booting ${path.basename(vmlinuz)} (${accel}, timeout ${timeoutSec}s) for ${files.join(' ')}`);
const vm = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  say(`timeout after ${timeoutSec}s: killing qemu`);
  vm.kill('SIGKILL');
}, timeoutSec * 1000);
let pending = '';
vm.stdout.on('data', (chunk) => {
  pending += chunk.toString('utf8').replace(/\r/g, '');
  const lines = pending.split('\n');
  pending = lines.pop();
  for (const line of lines) if (line.trim()) say(`| ${line}`);
});
vm.stderr.on('data', (chunk) => process.stderr.write(chunk));
vm.on('exit', (code, signal) => {
  clearTimeout(timer);
  if (pending.trim()) say(`| ${pending}`);
  const statusFile = path.join(results, 'status');
  const status = existsSync(statusFile) ? Number(readFileSync(statusFile, 'utf8').trim()) : null;
  rmSync(results, { recursive: true, force: true });
  if (status === null) {
    say(timedOut ? 'no result: the guest ran out of time' : `no result: qemu exited ${code ?? signal} before the tests finished`);
    process.exit(2);
  }
  say(`guest tests exited ${status}`);
  process.exit(status);
});
