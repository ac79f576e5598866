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

/** Rank 0's BML with two transports to rank 1: 'fast' ahead of 'slow' by exclusivity. */
async function slowAndFast(): Promise<{ bml: Bml; slow: PlainModule; fast: PlainModule }> {
  const bml = new Bml({ rank: 0, size: 2 });
  const slow = new PlainModule('slow', 100, 100);
  const fast = new PlainModule('fast', 1000, 10_000);
  await bml.addModule(slow, procs);
  await bml.addModule(fast, procs);
  return { bml, slow, fast };
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

describe('a link a switch chose, failed', () => {
  it('leaves its traffic to the others loaded until one of the chosen works again; the peer is not lost', async () => {
    const { bml, slow } = await slowAndFast();
    const lost: unknown[] = [];
    bml.hooks.peerLost.tap('test', (e) => lost.push(e));
    const sendList = () => bml.endpoints[1]!.send.map((b) => b.module.component);
    bml.setPolicy((_rank, component) => component === 'slow');
    expect(sendList()).toEqual(['slow']);

    // The module the switch chose fails for good: 'fast' carries the traffic, flagged as a fallback.
    bml.host.error({ module: slow, severity: 'fatal', error: new Error('device reset') });
    expect(sendList()).toEqual(['fast']);
    expect(bml.endpoints[1]!.fallback).toBe(true);
    // Unloaded, and nothing of it left: still the fallback, not an empty list.
    await bml.removeModule(slow);
    expect(sendList()).toEqual(['fast']);
    expect(lost).toEqual([]);

    // Loaded anew: the switch's choice again.
    await bml.addModule(new PlainModule('slow', 100, 100), procs, 1);
    expect(sendList()).toEqual(['slow']);
    expect(bml.endpoints[1]!.fallback).toBe(false);
    bml.stopFailover();
  });
});

describe('a peer no link reaches, past the peer timeout', () => {
  /** Rank 0 with one transport to rank 1, its link failed; the job answers `activity` about rank 1. */
  async function unreachablePeer(activity: Array<{ busyMs?: number; freeForMs?: number } | undefined>) {
    const bml = new Bml({ rank: 0, size: 2 });
    const lost: number[] = [];
    bml.hooks.peerLost.tap('test', (e) => lost.push(e.peer));
    const asked: number[] = [];
    bml.configureFailover({
      recoveryIntervalMs: 0,
      peerTimeoutMs: 40,
      peerActivity: async (rank) => {
        asked.push(rank);
        return activity.shift();
      },
    });
    const only = new PlainModule('only', 100, 100);
    await bml.addModule(only, procs);
    bml.host.error({ module: only, endpoint: only.endpoint, severity: 'endpoint', error: new Error('read ECONNRESET') });
    return { bml, lost, asked };
  }
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  };

  it('is waited for while it is busy in application code, and for one more timeout after it was', async () => {
    const { bml, lost, asked } = await unreachablePeer([{ busyMs: 900 }, { busyMs: 950 }, { freeForMs: 5 }, { freeForMs: 45 }]);
    await until(() => lost.length > 0);
    // Busy twice, then free only 5 ms (still catching up): waited for; free longer than a timeout: lost.
    expect(asked).toEqual([1, 1, 1, 1]);
    expect(lost).toEqual([1]);
    bml.stopFailover();
  });

  it('is lost at the first timeout when the job does not know it busy, lately or now', async () => {
    const { bml, lost, asked } = await unreachablePeer([{}]);
    await until(() => lost.length > 0);
    expect(asked).toEqual([1]);
    expect(lost).toEqual([1]);
    bml.stopFailover();
  });
});

describe('a change of policy about other peers', () => {
  it("is not refused for a peer it leaves as it is, whose traffic fell back after its switch's transport failed", async () => {
    const { bml, slow } = await slowAndFast();
    bml.setPolicy((_rank, component) => component === 'slow');
    bml.host.error({ module: slow, endpoint: slow.endpoint, severity: 'endpoint', error: new Error('connection reset') });
    expect(bml.endpoints[1]!.send.map((b) => b.module.component)).toEqual(['fast']);
    // The same policy for rank 1 (a switch of other ranks' links): it keeps its fallback.
    expect(bml.unreachableUnder(bml.policy)).toEqual([]);
    // One that changes rank 1's own links is judged: none allowed, nothing reaches it.
    expect(bml.unreachableUnder((_rank, component) => component === 'none')).toEqual([1]);
    bml.stopFailover();
  });
});
