import type { FoundComponent, RefusedComponent } from '@switchyard/mca';
import { parseSelection } from '@switchyard/mca';
import { describe, expect, it } from 'vitest';
import { refusedSelf } from '../src/cli/commands/run-mca-check.js';

const component = (name: string): FoundComponent => ({
  manifest: { framework: 'btl', component: name, api: '^1.0.0' },
  packageName: `@switchyard/btl-${name}`,
  version: '0.1.0',
  dir: `/home/alice/switchyard/packages/btl-${name}`,
  entry: `/home/alice/switchyard/packages/btl-${name}/dist/index.js`,
  foundIn: '/home/alice/switchyard/node_modules/@switchyard',
  via: 'installation',
  firstParty: true,
});
const refused = (name: string): RefusedComponent => ({
  ...component(name),
  reason: `/home/alice/switchyard/packages/btl-${name} is owned by alice (uid 1001), not by you (bob (uid 1002)) or root`,
});

describe('switchyard run, before any rank starts (another user\'s installation)', () => {
  it('refuses a job whose btl self the ownership check refused: no rank could reach itself', () => {
    const discovery = { found: [], refused: [refused('self'), refused('tcp')] };
    expect(refusedSelf(discovery, parseSelection(''))).toBe(
      "btl component 'self' (a rank reaches itself only through it) cannot be used: refused: " +
        '/home/alice/switchyard/packages/btl-self is owned by alice (uid 1001), not by you (bob (uid 1002)) or root',
    );
    expect(refusedSelf(discovery, parseSelection('tcp,self'))).toMatch(/^btl component 'self'/);
  });

  it('says nothing when a self is usable, or when the selection leaves self out (that fails as such)', () => {
    expect(refusedSelf({ found: [component('self')], refused: [refused('self')] }, parseSelection(''))).toBeUndefined();
    expect(refusedSelf({ found: [], refused: [refused('self')] }, parseSelection('^self'))).toBeUndefined();
    expect(refusedSelf({ found: [component('tcp')], refused: [] }, parseSelection('tcp'))).toBeUndefined();
  });
});
