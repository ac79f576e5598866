import { describe, expect, it } from 'vitest';
import { TracePlugin } from '@switchyard/mca';
import { Bml } from '../src/index.js';

describe('tracing the BML', () => {
  it('logs each hook call through the plugin, leaving out the hooks it skips', async () => {
    const bml = new Bml({ rank: 0, size: 2 });
    const lines: string[] = [];
    new TracePlugin('bml rank 0', (line) => lines.push(line), ['writable']).apply(bml);
    // A consumer taps as usual; the trace sees the calls whoever taps.
    const states: string[] = [];
    bml.hooks.ftEvent.tapPromise('consumer', async (state) => void states.push(state));
    await bml.hooks.ftEvent.promise('checkpoint');
    bml.hooks.endpointChanged.call(bml.endpoints[1]!);
    expect(states).toEqual(['checkpoint']);
    expect(lines).toEqual(['[bml rank 0] ftEvent(checkpoint)', '[bml rank 0] endpointChanged(rank 1 [])']);
  });
});
