import { describe, expect, it } from 'vitest';
import { Bml, type BtlProc } from '../src/index.js';
import { PeerModule, procs } from './peer-module.js';

const TAG = 0x40;

/**
 * A module whose addProcs and link handshake finish when the test says: the situations a hot
 * load meets when ranks are not equally fast.
 */
class HandshakeModule extends PeerModule {
  addProcsReturns!: () => void;
  linkUp!: () => void;
  readonly #addProcsGate = new Promise<void>((r) => (this.addProcsReturns = r));
  readonly #linkGate = new Promise<void>((r) => (this.linkUp = r));

  constructor() {
    super('handshake');
  }

  override async addProcs(list: readonly BtlProc[]) {
    await this.#addProcsGate;
    return super.addProcs(list);
  }
  connected(): Promise<void> {
    return this.#linkGate;
  }
}

describe('adding a module to a BML that other ranks already send to', () => {
  it('holds fragments that come while addProcs runs and delivers them, in order, once it returns', async () => {
    const bml = new Bml({ rank: 0, size: 2 });
    const got: string[] = [];
    bml.register(TAG, (_peer, data) => got.push(Buffer.from(data).toString()));
    const module = new HandshakeModule();
    const adding = bml.addModule(module, procs);
    // A faster peer's module is up and sends before ours has returned from addProcs.
    const scratch = Buffer.from('first');
    bml.host.receive(module.endpoint, TAG, scratch);
    scratch.write('XXXXX'); // a module may reuse its receive buffer: the BML must have copied
    bml.host.receive(module.endpoint, TAG, Buffer.from('second'));
    expect(got).toEqual([]);
    module.addProcsReturns();
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['first', 'second']);
    module.linkUp();
    await adding;
    expect(bml.trafficByComponent().get('handshake')).toMatchObject({ fragmentsReceived: 2 });
  });

  it('receives on a new link at once but sends on it only once the module says it is connected', async () => {
    const bml = new Bml({ rank: 0, size: 2 });
    const got: string[] = [];
    bml.register(TAG, (_peer, data) => got.push(Buffer.from(data).toString()));
    const module = new HandshakeModule();
    let added = false;
    const adding = bml.addModule(module, procs).then(() => (added = true));
    module.addProcsReturns();
    await new Promise((r) => setImmediate(r));
    bml.host.receive(module.endpoint, TAG, Buffer.from('peer was faster'));
    expect(got).toEqual(['peer was faster']);
    // Not yet a way to reach rank 1: traffic would stay on the transports already up.
    expect(bml.endpoints[1]!.send).toEqual([]);
    expect(added).toBe(false);
    module.linkUp();
    await adding;
    expect(bml.endpoints[1]!.send.map((b) => b.module)).toEqual([module]);
  });
});
