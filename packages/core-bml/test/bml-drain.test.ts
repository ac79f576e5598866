import { describe, expect, it } from 'vitest';
import { Bml, BtlFlag, type BmlBtl, type BtlEndpoint, type BtlModule, type BtlProc, type SendCompletion } from '../src/index.js';

const procs: BtlProc[] = [0, 1].map((rank) => ({ rank, hostname: 'here', local: true, cards: [] }));

/** One side of an in-memory link between two BMLs: what it sends arrives, in order, a turn of the loop later. */
class WireModule implements BtlModule {
  readonly name: string;
  readonly flags = BtlFlag.SEND | BtlFlag.ORDERED;
  readonly exclusivity = 100;
  readonly latency = 1;
  readonly bandwidth = 1000;
  readonly eagerLimit = 1024;
  readonly maxSendSize = 4096;
  readonly businessCard = null;
  readonly endpoint: BtlEndpoint;
  other!: WireModule;
  /** Fragments sent meanwhile are lost, their completions failed (a reset connection). */
  cut = false;

  constructor(
    readonly component: string,
    readonly bml: Bml,
  ) {
    this.name = `${component}:${bml.rank}`;
    this.endpoint = Object.freeze({ rank: 1 - bml.rank, module: this });
  }

  async addProcs(list: readonly BtlProc[]): Promise<Array<BtlEndpoint | undefined>> {
    return list.map((p) => (p.rank === this.endpoint.rank ? this.endpoint : undefined));
  }
  async delProcs() {}
  send(_endpoint: BtlEndpoint, tag: number, segments: readonly Uint8Array[], done?: SendCompletion): boolean {
    const data = Buffer.concat(segments);
    if (this.cut) {
      setImmediate(() => done?.(new Error('connection reset')));
      return true;
    }
    setImmediate(() => {
      this.other.bml.host.receive(this.other.endpoint, tag, data);
      done?.();
    });
    return true;
  }
  async flush() {}
  async finalize() {}
}

async function pair(...components: string[]): Promise<{ bmls: [Bml, Bml]; modules: Map<string, [WireModule, WireModule]> }> {
  const bmls: [Bml, Bml] = [new Bml({ rank: 0, size: 2 }), new Bml({ rank: 1, size: 2 })];
  const modules = new Map<string, [WireModule, WireModule]>();
  for (const c of components) {
    const m: [WireModule, WireModule] = [new WireModule(c, bmls[0]), new WireModule(c, bmls[1])];
    m[0].other = m[1];
    m[1].other = m[0];
    await Promise.all(bmls.map((bml, r) => bml.addModule(m[r]!, procs)));
    modules.set(c, m);
  }
  return { bmls, modules };
}

/**
 * Rank 0's link of `module` resets with 3 fragments on it, and only rank 0 notices: rank 1's
 * side stays in service (it saw no fault, or a probe brought it back first).
 */
async function failOnRank0(bml: Bml, module: WireModule): Promise<BmlBtl> {
  const link = bml.endpoints[1]!.btls.find((b) => b.module === module)!;
  module.cut = true;
  for (let i = 0; i < 3; i++) link.send(7, [Uint8Array.of(i)]);
  await new Promise((r) => setImmediate(r));
  bml.failLink(link, { error: new Error('connection reset'), at: Date.now(), severity: 'endpoint' }, false);
  module.cut = false;
  return link;
}

describe('the drain of a link', () => {
  it('ends when the peer already carries none of its traffic there, and later drains of both sides still end', async () => {
    const { bmls, modules } = await pair('tcp', 'sm');
    const tcpOnly = (_rank: number, component: string) => component === 'tcp';
    // Rank 1 moved its traffic off sm without a drain of its own (as a fault's fallback does).
    bmls[1].setPolicy(tcpOnly);
    // Rank 0 moves off sm now and drains its side alone: rank 1 answers at once.
    const left = bmls[0].setPolicy(tcpOnly);
    expect(left.map((b) => b.traceLabel())).toEqual(['sm:0->1']);
    await bmls[0].drain(left, 2_000);
    // Unloading sm drains both sides of the link: neither waits on an answer meant for an earlier drain.
    const [sm0, sm1] = modules.get('sm')!;
    const removed = await Promise.all([bmls[0].removeModule(sm0, undefined, 2_000), bmls[1].removeModule(sm1, undefined, 2_000)]);
    expect(removed).toEqual([true, true]);
    bmls.forEach((bml) => bml.stopFailover());
  });

  it("waits for the peer's own drain when its side still carries traffic, and counts what it sent first", async () => {
    const { bmls } = await pair('tcp', 'sm');
    const got: number[] = [];
    bmls[0].register(7, (_peer, data) => got.push(data[0]!));
    const smOf = (bml: Bml) => bml.endpoints[1 - bml.rank]!.btls.find((b) => b.module.component === 'sm')!;
    const tcpOnly = (_rank: number, component: string) => component === 'tcp';
    const left = bmls[0].setPolicy(tcpOnly);
    let drained = false;
    const drain = bmls[0].drain(left, 2_000).then(() => (drained = true));
    // Rank 1 still sends on sm: rank 0's drain waits for it to stop.
    for (let i = 0; i < 3; i++) smOf(bmls[1]).send(7, [Uint8Array.of(i)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(drained).toBe(false);
    await bmls[1].drain(bmls[1].setPolicy(tcpOnly), 2_000);
    await drain;
    expect(got).toEqual([0, 1, 2]);
    bmls.forEach((bml) => bml.stopFailover());
  });

  it('names a link whose module completed a send twice when the drain times out', async () => {
    const { bmls, modules } = await pair('tcp', 'sm');
    const [sm0] = modules.get('sm')!;
    const send = sm0.send.bind(sm0);
    sm0.send = (endpoint, tag, segments, done) => send(endpoint, tag, segments, done && ((error) => (done(error), done(error))));
    const link = bmls[0].endpoints[1]!.btls.find((b) => b.module === sm0)!;
    link.send(7, [Uint8Array.of(1)]);
    await new Promise((r) => setTimeout(r, 20));
    const left = bmls[0].setPolicy((_rank, component) => component === 'tcp');
    await expect(bmls[0].drain(left, 300)).rejects.toThrow(
      'drain timed out after 300 ms; still waiting on sm:0->1 (its module completed 1 more sends than it was given; no drain marker',
    );
    bmls.forEach((bml) => bml.stopFailover());
  });

  it('names the fragments a module lost when the drain times out: how many the peer counted, how many arrived', async () => {
    const { bmls, modules } = await pair('tcp', 'sm');
    const sm1 = modules.get('sm')![1];
    const send = sm1.send.bind(sm1);
    let sends = 0;
    // Rank 1's module drops its second fragment without a word, and completes it.
    sm1.send = (endpoint, tag, segments, done) => (++sends === 2 ? (done?.(undefined), true) : send(endpoint, tag, segments, done));
    const link1 = bmls[1].endpoints[0]!.btls.find((b) => b.module === sm1)!;
    for (let i = 0; i < 3; i++) link1.send(7, [Uint8Array.of(i)]);
    await new Promise((r) => setTimeout(r, 20));
    const tcpOnly = (_rank: number, component: string) => component === 'tcp';
    const left = bmls[0].setPolicy(tcpOnly);
    const drain = bmls[0].drain(left, 300);
    await bmls[1].drain(bmls[1].setPolicy(tcpOnly), 2_000);
    await expect(drain).rejects.toThrow('still waiting on sm:0->1 (rank 1 sent 3 fragment(s) on it, 2 arrived)');
    bmls.forEach((bml) => bml.stopFailover());
  });

  it('ends on the side still in service when the other side\'s link failed, whatever that side had sent before', async () => {
    const { bmls, modules } = await pair('tcp', 'sm');
    const [tcp0, tcp1] = modules.get('tcp')!;
    await failOnRank0(bmls[0], tcp0);
    // Both unload tcp (or finalize): rank 0 skips its failed link, and rank 1 must not wait for a
    // marker that never comes, or for the fragments the fault lost.
    const removed = await Promise.all([bmls[0].removeModule(tcp0, undefined, 1_000), bmls[1].removeModule(tcp1, undefined, 1_000)]);
    expect(removed).toEqual([true, true]);
    bmls.forEach((bml) => bml.stopFailover());
  });

  it('ends when the link failed on the peer\'s side only, after fragments the fault lost', async () => {
    const { bmls, modules } = await pair('tcp', 'sm');
    await failOnRank0(bmls[0], modules.get('sm')![0]);
    // Rank 1 moves off sm: rank 0 answers at once (its side is out of use), owing nothing.
    await bmls[1].drain(bmls[1].setPolicy((_rank, component) => component === 'tcp'), 1_000);
    bmls.forEach((bml) => bml.stopFailover());
  });
});
