// A fake cgroupfs under a temp directory: directories with the files a kernel
// would show, and a log of every write the drivers make (a plain file keeps
// only the last write; a cgroup file acts on each one).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { OciError } from '../../src/errors.js';
import path from 'node:path';
import { observeWrites } from '../../src/cgroups/files.js';

export class FakeCgroupfs {
  readonly root: string;
  /** [path relative to root, value] in the order written. */
  writes: [string, string][] = [];

  constructor() {
    this.root = mkdtempSync(path.join(os.tmpdir(), 'ocirun-fake-cgroupfs-'));
    observeWrites((file, value) => {
      const rel = path.relative(this.root, file);
      this.writes.push([rel, value]);
      const kernel = this.behaviours.get(rel);
      if (kernel) writeFileSync(file, kernel(value));
    });
  }

  private behaviours = new Map<string, (written: string) => string>();

  /** What the "kernel" shows in `rel` after a write (e.g. a clamped or ignored value). */
  onWrite(rel: string, shows: (written: string) => string): void {
    this.behaviours.set(rel, shows);
  }

  /** Makes `rel` (and its parents) holding `files`; returns its absolute path. */
  dir(rel: string, files: Record<string, string> = {}): string {
    const d = path.join(this.root, rel);
    mkdirSync(d, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(d, name), content);
    return d;
  }

  read(rel: string): string {
    return readFileSync(path.join(this.root, rel), 'utf8');
  }

  set(rel: string, content: string): void {
    writeFileSync(path.join(this.root, rel), content);
  }

  /** The writes to one file, in order. */
  writesTo(rel: string): string[] {
    return this.writes.filter(([f]) => f === rel).map(([, v]) => v);
  }

  clearWrites(): void {
    this.writes = [];
  }

  dispose(): void {
    observeWrites(undefined);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The OciError that `fn` throws (fails the test when it throws none or another error). */
export function errorOf(fn: () => void): OciError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OciError) return err;
    throw err;
  }
  throw new Error('expected an OciError');
}
