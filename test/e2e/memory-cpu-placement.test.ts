// linux.memoryPolicy (set_mempolicy(2) for the init and every exec'd process)
// and process.execCPUAffinity (exec'd processes only: `final` once in the
// container's cgroups). What the processes see: their numa_maps policy and
// Cpus_allowed_list. This kind of VM has one memory node and two CPUs; bad
// values are one clear line at create or exec, leaving nothing behind.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, isRoot, refusedCreate, uniqueId, type Bundle, type BundleConfig } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => {
  const left = rt.containerIds();
  rt.dispose();
  expect(left, 'containers left behind').toEqual([]);
});

function bundle(args: string[], mutate: (c: BundleConfig) => void): Bundle {
  return rt.bundle(args, mutate);
}

/** A running container (sleeping init); deleted by the callback's end. */
function withRunning(mutate: (c: BundleConfig) => void, body: (id: string, pid: number, b: Bundle) => void): void {
  const b = bundle(['sleep', '1000'], mutate);
  const id = uniqueId('place');
  rt.ok(['run', '-d', '--bundle', b.dir, id]);
  try {
    body(id, rt.state(id).pid, b);
  } finally {
    rt.run(['delete', '-f', id]);
  }
}

function refused(mutate: (c: BundleConfig) => void): string {
  return refusedCreate(rt, bundle(['true'], mutate), 'place-bad');
}

/** The policy word of the first mapping in a numa_maps text ("bind:0", "interleave:0", "default"). */
const policyOf = (numaMaps: string) => numaMaps.split('\n')[0].split(' ')[1];
const cpusOf = (status: string) => /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1];

describe.skipIf(!isRoot)('linux.memoryPolicy', () => {
  for (const [mode, shown] of [
    ['MPOL_BIND', 'bind:0'],
    ['MPOL_INTERLEAVE', 'interleave:0'],
    ['MPOL_PREFERRED', 'prefer:0'],
  ] as const) {
    it(`${mode} is the policy of the init and of exec'd processes`, () => {
      withRunning(
        (c) => {
          c.linux.memoryPolicy = { mode, nodes: '0' };
        },
        (id, pid) => {
          expect(policyOf(readFileSync(`/proc/${pid}/numa_maps`, 'utf8'))).toBe(shown);
          const r = rt.ok(['exec', id, 'cat', '/proc/self/numa_maps']);
          expect(policyOf(r.stdout)).toBe(shown);
        },
      );
    });
  }

  it('without one, the processes keep the default policy', () => {
    withRunning(
      () => {},
      (id, pid) => {
        expect(policyOf(readFileSync(`/proc/${pid}/numa_maps`, 'utf8'))).toBe('default');
      },
    );
  });

  it('refuses what set_mempolicy would, naming the field', () => {
    expect(
      refused((c) => {
        c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '7' };
      }),
    ).toMatch(/\/linux\/memoryPolicy\/nodes: this host has no memory node 7 \(its nodes: [0-9,]+\)/);
    expect(
      refused((c) => {
        c.linux.memoryPolicy = { mode: 'MPOL_BIND' };
      }),
    ).toContain('/linux/memoryPolicy/nodes: MPOL_BIND needs at least one node');
    expect(
      refused((c) => {
        c.linux.memoryPolicy = { mode: 'MPOL_LOCAL', nodes: '0' };
      }),
    ).toContain('/linux/memoryPolicy/nodes: MPOL_LOCAL takes no nodes');
    expect(
      refused((c) => {
        c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_STATIC_NODES', 'MPOL_F_RELATIVE_NODES'] };
      }),
    ).toContain('/linux/memoryPolicy/flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other');
    expect(
      refused((c) => {
        c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '1-0' };
      }),
    ).toContain('/linux/memoryPolicy/nodes: the range 1-0 ends before it starts');
  });
});

const twoCpus = os.availableParallelism() >= 2;

describe.skipIf(!isRoot || !twoCpus)('process.execCPUAffinity', () => {
  it("puts an exec'd process on the final CPUs, from process.json or from config.json, and leaves the init alone", () => {
    withRunning(
      (c) => {
        c.process.execCPUAffinity = { initial: '0', final: '1' };
      },
      (id, pid, b) => {
        expect(cpusOf(readFileSync(`/proc/${pid}/status`, 'utf8')), 'config.md: not applicable to the init').toBe('0-1');
        expect(cpusOf(rt.ok(['exec', id, 'cat', '/proc/self/status']).stdout)).toBe('1');
        const processFile = `${b.dir}/process.json`;
        writeFileSync(
          processFile,
          JSON.stringify({
            args: ['cat', '/proc/self/status'],
            cwd: '/',
            execCPUAffinity: { initial: '1', final: '0' },
          }),
        );
        expect(cpusOf(rt.ok(['exec', '--process', processFile, id]).stdout)).toBe('0');
      },
    );
  });

  it('refuses CPUs this host does not have, naming the field', () => {
    expect(
      refused((c) => {
        c.process.execCPUAffinity = { final: '64' };
      }),
    ).toMatch(/\/process\/execCPUAffinity\/final: CPU 64 is not online on this host \(online: [0-9,]+\)/);
    withRunning(
      () => {},
      (id, _pid, b) => {
        const processFile = `${b.dir}/bad-process.json`;
        writeFileSync(processFile, JSON.stringify({ args: ['true'], cwd: '/', execCPUAffinity: { initial: '3-1' } }));
        const r = rt.run(['exec', '--process', processFile, id]);
        expect(r.code).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toContain('/execCPUAffinity/initial: the range 3-1 ends before it starts');
      },
    );
  });
});
