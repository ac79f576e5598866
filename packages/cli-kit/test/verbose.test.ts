import { describe, expect, it } from 'vitest';
import { describeFailure, verboseRequested } from '../src/index.js';

describe('stack traces only when asked for', () => {
  it('takes any *_verbose parameter above 0, from the environment or --mca pairs', () => {
    expect(verboseRequested({})).toBe(false);
    expect(verboseRequested({ SWITCHYARD_MCA_btl_base_verbose: '0' })).toBe(false);
    expect(verboseRequested({ SWITCHYARD_MCA_btl_base_verbose: '1' })).toBe(true);
    expect(verboseRequested({ SWITCHYARD_MCA_mca_base_verbose: 'yes' })).toBe(true);
    expect(verboseRequested({ SWITCHYARD_MCA_btl: '1' })).toBe(false);
    expect(verboseRequested({}, [['pml_base_verbose', '5']])).toBe(true);
    expect(verboseRequested({}, [['btl', 'tcp']])).toBe(false);
  });

  it('describes a failure in one line, with the stack only when verbose', () => {
    const err = new Error('cannot do that');
    expect(describeFailure(err, false)).toBe('cannot do that');
    expect(describeFailure(err, true)).toMatch(/^cannot do that\nError: cannot do that\n\s+at /);
    expect(describeFailure('plain', false)).toBe('plain');
  });
});
