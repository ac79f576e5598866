import { describe, expect, it } from 'vitest';
import { MAX_CONTEXT } from '@switchyard/pml';
import { Comm } from '../src/app/comm.js';
import { ContextPairs } from '../src/app/context-pairs.js';
import type { Runtime } from '../src/app/runtime.js';
import { fabric } from '../../pml/test/memory-fabric.js';

/** Two ranks' worlds in this process, over the PML's in-memory fabric: what dup and free need of a runtime. */
async function twoWorlds(): Promise<[Comm, Comm]> {
  const { pmls } = await fabric(2, [{ name: 'm' }]);
  const runtime = (rank: number) => ({ pml: pmls[rank]!, pairs: new ContextPairs(), finalized: false }) as unknown as Runtime;
  const world = (rank: number) => new Comm(runtime(rank), undefined, 0);
  return [world(0), world(1)];
}

describe('Comm.free', () => {
  it('gives the context pair back: dup and free in a loop never run out of context ids', async () => {
    const worlds = await twoWorlds();
    // More communicators over the job's life than there are pairs, never more than one at a time.
    const rounds = (MAX_CONTEXT >> 1) + 10;
    await Promise.all(
      worlds.map(async (world) => {
        for (let i = 0; i < rounds; i++) (await world.dup()).free();
      }),
    );
    // A communicator on a pair used before starts its sequence numbers afresh at both ends.
    const [a, b] = await Promise.all(worlds.map((w) => w.dup()));
    const [, got] = await Promise.all([a!.send(Int32Array.of(7), 1, 3), b!.recv(0, 3, Int32Array)]);
    expect(got.data[0]).toBe(7);
  });
});

describe('a communicator used after free()', () => {
  it("fails with ERR_COMM naming the rank as the job's output does, and its rank in the communicator", async () => {
    const worlds = await twoWorlds();
    // Keys reversed: world rank 0 is rank 1 of the split, and world rank 1 is its rank 0.
    const [a, b] = await Promise.all(worlds.map((w, rank) => w.split(0, -rank)));
    expect([a!.rank, b!.rank]).toEqual([1, 0]);
    a!.free();
    const freed = 'rank 0 (rank 1 of this communicator): the communicator was freed (or the world finalized)';
    expect(() => a!.isend(Int32Array.of(1), 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_COMM', message: freed }));
    b!.free();
    const split = worlds[0].split('a' as unknown as number);
    await expect(split).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringContaining("got 'a' (a string)") });
  });
});
