// The runtime's binary as the sealed-exe preparation opens it (CVE-2019-5736),
// through each way of building the lower-only overlay: layers given as fds
// (Linux 6.15 and later, what this kernel takes) and as /proc/self/fd paths
// with an empty directory of the host (what older kernels get). The
// containers that run from it are in runtime-binary.test.ts.
import { chownSync, closeSync, mkdirSync, openSync, readdirSync, readSync, fstatSync, statSync, utimesSync } from 'node:fs';
import { release } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { prepareSealedExe } from '../../src/process/sealed-exe.js';
import { Runtime, isRoot, uniqueId } from '../helpers/ocirun.js';

const rt = new Runtime();
const KEPT = `ocirun-empty.${process.geteuid?.()}`;
const savedTmpdir = process.env.TMPDIR;
afterEach(() => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
});
afterAll(() => rt.dispose());

function head(file: string | number): Buffer {
  const fd = typeof file === 'number' ? openSync(`/proc/self/fd/${file}`, 'r') : openSync(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
}

// Before Linux 6.15 the fd form falls back to the path form.
const [major, minor] = release().split('.').map(Number);
const kernelTakesFdLayers = major > 6 || (major === 6 && minor >= 15);

describe.skipIf(!isRoot)("the runtime's binary through a lower-only overlay", () => {
  for (const [form, fdLayers] of [
    ['layers given as fds', true],
    ['layers given as /proc/self/fd paths', false],
  ] as const) {
    it(`${form}: is the running node, and cannot be opened for writing`, () => {
      process.env.TMPDIR = rt.scratchPath(uniqueId('tmp'));
      mkdirSync(process.env.TMPDIR);
      const sealed = prepareSealedExe({ fdLayers })!;
      try {
        const seen = fstatSync(sealed.fd);
        const running = statSync('/proc/self/exe');
        expect(seen.ino).toBe(running.ino);
        expect(seen.size).toBe(running.size);
        expect(seen.dev).not.toBe(running.dev);
        expect(head(sealed.fd).equals(head('/proc/self/exe'))).toBe(true);
        for (const flags of ['r+', 'a']) {
          expect(() => closeSync(openSync(`/proc/self/fd/${sealed.fd}`, flags))).toThrow(expect.objectContaining({ code: 'EROFS' }));
        }
      } finally {
        closeSync(sealed.fd);
      }
      // The path form's empty layer is kept for the next container, and stays empty.
      const pathForm = !fdLayers || !kernelTakesFdLayers;
      expect(readdirSync(process.env.TMPDIR)).toEqual(pathForm ? [KEPT] : []);
      if (pathForm) expect(readdirSync(path.join(process.env.TMPDIR, KEPT))).toEqual([]);
    });
  }

  it('the path form reuses its empty layer: TMPDIR is not written again', () => {
    process.env.TMPDIR = rt.scratchPath(uniqueId('tmp'));
    mkdirSync(process.env.TMPDIR);
    closeSync(prepareSealedExe({ fdLayers: false })!.fd);
    utimesSync(process.env.TMPDIR, 0, 0);
    closeSync(prepareSealedExe({ fdLayers: false })!.fd);
    expect(statSync(process.env.TMPDIR).mtimeMs).toBe(0);
  });

  it('the path form takes no empty layer that another user could write to', () => {
    process.env.TMPDIR = rt.scratchPath(uniqueId('tmp'));
    const foreign = path.join(process.env.TMPDIR, KEPT);
    mkdirSync(foreign, { recursive: true });
    chownSync(foreign, 65534, 65534);
    utimesSync(process.env.TMPDIR, 0, 0);
    closeSync(prepareSealedExe({ fdLayers: false })!.fd);
    // A fresh one served (TMPDIR was written), and is gone.
    expect(statSync(process.env.TMPDIR).mtimeMs).not.toBe(0);
    expect(readdirSync(process.env.TMPDIR)).toEqual([KEPT]);
    expect(statSync(foreign).uid).toBe(65534);
  });

  it('the path form makes its empty layer under TMPDIR; the fd form (Linux 6.15) touches no file system', () => {
    process.env.TMPDIR = rt.scratchPath(uniqueId('missing'));
    expect(() => prepareSealedExe({ fdLayers: false })).toThrow(/cannot seal the runtime's binary.*ENOENT/);
    if (kernelTakesFdLayers) closeSync(prepareSealedExe()!.fd);
  });
});
