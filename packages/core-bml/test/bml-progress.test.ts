import { describe, expect, it } from 'vitest';
import { Bml, BtlFlag, type BtlEndpoint, type BtlModule, type BtlProc } from '../src/index.js';

const procs: BtlProc[] = [0, 1].map((rank) => ({ rank, hostname: 'here', local: true, cards: [] }));

/** A module that reaches rank 1 and offers progress(), which counts its calls or throws. */
class PolledModule implements BtlModule {
  readonly component = 'polled';
  readonly name = 'polled:0';
  readonly exclusivity = 100;
  readonly latency = 1;
  readonly bandwidth = 1000;
  readonly eagerLimit = 1024;
  readonly maxSendSize = 4096;
  readonly flags = BtlFlag.SEND;
  readonly businessCard = null;
  readonly endpoint: BtlEndpoint = Object.freeze({ rank: 1, module: this });
  calls = 0;
  fault: Error | undefined;

  async addProcs(list: readonly BtlProc[]) {
    return list.map((p) => (p.rank === 1 ? this.endpoint : undefined));
  }
  async delProcs() {}
  send(): boolean {
    return true;
  }
  progress(): number {
    this.calls += 1;
    if (this.fault) throw this.fault;
    return 1;
  }
  async flush() {}
  async finalize() {}
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
