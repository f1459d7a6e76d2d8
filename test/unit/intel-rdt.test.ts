// A process exec'd into a container joins its resctrl group as the init did.
// This kind of VM has no resctrl filesystem: a directory laid out like one
// stands in for it, and what the runtime wrote into it is checked.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { joinIntelRdtForExec } from '../../src/linux/intel-rdt.js';
import type { Spec } from '../../src/spec/types.js';

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

function fakeResctrl(groups: string[]): string {
  root = mkdtempSync(path.join(os.tmpdir(), 'ocirun-resctrl-'));
  writeFileSync(path.join(root, 'tasks'), '');
  for (const g of groups) {
    mkdirSync(path.join(root, g, 'mon_groups'), { recursive: true });
    writeFileSync(path.join(root, g, 'tasks'), '');
  }
  return root;
}

const config = (intelRdt: Record<string, unknown>) => ({ ociVersion: '1.3.0', root: { path: 'rootfs' }, linux: { intelRdt } }) as Spec;

describe('joinIntelRdtForExec', () => {
  it("writes the exec'd process to the group named after the container", () => {
    const r = fakeResctrl(['ctr1']);
    joinIntelRdtForExec(config({ l3CacheSchema: 'L3:0=f' }), 'ctr1', 4321, r);
    expect(readFileSync(path.join(r, 'ctr1', 'tasks'), 'utf8')).toBe('4321');
    expect(readFileSync(path.join(r, 'tasks'), 'utf8')).toBe('');
  });

  it('writes it to closID, and to the monitoring group with enableMonitoring', () => {
    const r = fakeResctrl(['shared']);
    joinIntelRdtForExec(config({ closID: 'shared', enableMonitoring: true }), 'ctr2', 4322, r);
    expect(readFileSync(path.join(r, 'shared', 'tasks'), 'utf8')).toBe('4322');
    expect(readFileSync(path.join(r, 'shared', 'mon_groups', 'ctr2', 'tasks'), 'utf8')).toBe('4322');
  });

  it('says so when the group is gone, and does nothing without linux.intelRdt', () => {
    const r = fakeResctrl([]);
    expect(() => joinIntelRdtForExec(config({ closID: 'gone' }), 'ctr3', 1, r)).toThrow(`linux.intelRdt: the container's resctrl group ${r}/gone is gone`);
    expect(() => joinIntelRdtForExec({ ociVersion: '1.3.0', root: { path: 'rootfs' } } as Spec, 'ctr3', 1, null)).not.toThrow();
    expect(() => joinIntelRdtForExec(config({}), 'ctr3', 1, null)).toThrow('no resctrl filesystem is mounted');
  });
});
