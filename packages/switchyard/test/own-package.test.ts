import { describe, expect, it } from 'vitest';
import { importOwnPackage } from '../src/cli/own-package.js';

// The CLI's optional companions (btl-openib's admin library, the bench) are taken only from where
// this installation keeps Switchyard's packages; Node's own lookup would also walk into the
// node_modules of every folder above (a parent folder's planted package).
describe('importOwnPackage', () => {
  it('imports a package of this installation', async () => {
    const mca = await importOwnPackage<typeof import('@switchyard/mca')>('@switchyard/mca');
    expect(typeof mca?.Mca).toBe('function');
  });

  it('does not import a package found outside it, nor one that is not installed', async () => {
    // vitest resolves, but from the node_modules above the packages, as a planted package would.
    expect(await importOwnPackage('vitest')).toBeUndefined();
    expect(await importOwnPackage('@switchyard/no-such-package')).toBeUndefined();
  });
});
