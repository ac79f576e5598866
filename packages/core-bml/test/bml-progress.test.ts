import { describe, expect, it } from 'vitest';
import { Bml, BtlFlag } from '../src/index.js';
import { PeerModule, procs } from './peer-module.js';

/** A module that offers progress(), which counts its calls or throws. */
class PolledModule extends PeerModule {
  calls = 0;
  fault: Error | undefined;

  constructor() {
    super('polled', { flags: BtlFlag.SEND });
  }

  progress(): number {
    this.calls += 1;
    if (this.fault) throw this.fault;
    return 1;
  }
}

describe('Bml.progress', () => {
  it('polls every module that offers progress() and says which peers are reached only through them', async () => {
    const bml = new Bml({ rank: 0, size: 2 });
    const module = new PolledModule();
    await bml.addModule(module, procs);
    expect(bml.endpoints[1]!.polled).toBe(true);
    expect(bml.progress()).toBe(1);
    expect(module.calls).toBe(1);
  });

  it('stops polling a module whose progress() throws, without throwing, and says why', async () => {
    const log: string[] = [];
    const bml = new Bml({ rank: 0, size: 2, log: (m) => log.push(m) });
    const module = new PolledModule();
    await bml.addModule(module, procs);
    module.fault = new Error('ring corrupt');
    expect(bml.progress()).toBe(0);
    expect(log.join('\n')).toContain('bml: polled:0: progress() threw (ring corrupt); it is no longer polled from wait()');
    expect(bml.endpoints[1]!.polled).toBe(false);
    expect(bml.polledEverywhere).toBe(false);
    bml.progress();
    expect(module.calls).toBe(1);
  });
});
