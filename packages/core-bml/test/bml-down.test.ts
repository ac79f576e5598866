import { describe, expect, it } from 'vitest';
import { Bml, BML_LINK_TAG } from '../src/index.js';
import { writeDown } from '../src/bml/link-message.js';
import { PeerModule, procs } from './peer-module.js';

/** A module that reaches rank 1 and accepts every send. */
class PlainModule extends PeerModule {
  constructor(component: string, exclusivity: number, bandwidth: number) {
    super(component, { exclusivity, bandwidth });
  }
}

describe("a peer's DOWN notice", () => {
  it('takes down the link of the generation it names, not one a later load made', async () => {
    const bml = new Bml({ rank: 0, size: 2 });
    const slow = new PlainModule('slow', 100, 100);
    const fast = new PlainModule('fast', 1000, 10_000);
    await bml.addModule(slow, procs);
    // The fast transport was unloaded and loaded again by the job: its links are generation 1.
    await bml.addModule(fast, procs, 1);
    expect(bml.endpoints[1]!.send.map((b) => b.module.component)).toEqual(['fast']);
    // A DOWN about the generation-0 link, which waited behind traffic on the slow link.
    bml.host.receive(slow.endpoint, BML_LINK_TAG, writeDown('fast', false, 0));
    expect(bml.endpoints[1]!.send.map((b) => b.module.component)).toEqual(['fast']);
    expect(bml.failedLinks()).toEqual([]);
    // One about the link that exists now takes it out of service.
    bml.host.receive(slow.endpoint, BML_LINK_TAG, writeDown('fast', false, 1));
    expect(bml.failedLinks().map((b) => b.module.component)).toEqual(['fast']);
    expect(bml.endpoints[1]!.send.map((b) => b.module.component)).toEqual(['slow']);
    bml.stopFailover();
  });
});
