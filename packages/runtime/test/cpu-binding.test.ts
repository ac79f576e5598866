import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allowedCpus, bindingPicture, parseCpuList, planBindings } from '../src/cpu-binding.js';
import { LaunchError } from '../src/errors.js';

const folder = mkdtempSync(join(tmpdir(), 'cpu-binding-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('binding ranks to cores', () => {
  it('reads Linux CPU lists, and refuses anything else', () => {
    expect(parseCpuList('0-1')).toEqual([0, 1]);
    expect(parseCpuList('0-2,5,8-9\n')).toEqual([0, 1, 2, 5, 8, 9]);
    expect(() => parseCpuList('0-1,x')).toThrow("not a CPU list: '0-1,x'");
  });

  it("reads the launcher's cores from its status file, and gives none where that cannot be read", () => {
    const status = join(folder, 'status');
    writeFileSync(status, 'Name:\tnode\nCpus_allowed:\t0c\nCpus_allowed_list:\t2-3\nMems_allowed_list:\t0\n');
    expect(allowedCpus(status)).toEqual([2, 3]);
    expect(allowedCpus(join(folder, 'missing'))).toBeUndefined();
  });

  it('binds by default as mpirun does: a core each for 1 or 2 ranks that have one, nothing otherwise', () => {
    expect(planBindings(2, undefined, [2, 3])).toEqual([2, 3]);
    expect(planBindings(1, undefined, [0, 1, 2, 3])).toEqual([0]);
    expect(planBindings(3, undefined, [0, 1, 2, 3])).toBeUndefined();
    expect(planBindings(2, undefined, [0])).toBeUndefined();
    expect(planBindings(2, undefined, undefined)).toBeUndefined();
  });

  it('binds as asked with core and none, and refuses a core binding that cannot be made', () => {
    expect(planBindings(4, 'core', [0, 1, 2, 3])).toEqual([0, 1, 2, 3]);
    expect(planBindings(2, 'none', [0, 1])).toBeUndefined();
    expect(() => planBindings(3, 'core', [0, 1])).toThrow(LaunchError);
    expect(() => planBindings(3, 'core', [0, 1])).toThrow('--bind-to core: 3 ranks and 2 cores to bind them to (0,1)');
    expect(() => planBindings(1, 'core', undefined)).toThrow('/proc/self/status');
  });

  it("draws a binding as Open MPI's --report-bindings does", () => {
    expect(bindingPicture(1, [0, 1])).toBe('[./B]');
    expect(bindingPicture(4, [2, 4, 6])).toBe('[./B/.]');
  });
});
