// Fields the schemas accept and ocirun does not implement are refused at
// create, naming the field, rather than silently left out.
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime, isRoot, refusedCreate } from '../helpers/ocirun.js';

const rt = new Runtime();
afterAll(() => {
  const left = rt.containerIds();
  rt.dispose();
  expect(left, 'containers left behind').toEqual([]);
});

describe.skipIf(!isRoot)('refused fields', () => {
  it('an id-mapped mount', () => {
    const b = rt.bundle(['true'], (c) => {
      c.mounts.push({
        destination: '/mnt', type: 'bind', source: '/tmp', options: ['rbind'],
        uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      });
    });
    expect(refusedCreate(rt, b)).toMatch(/\/mounts\/\d+\/uidMappings: id-mapped mounts are not supported by ocirun/);
  });
});
