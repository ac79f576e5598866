import { BtlFlag, type BtlEndpoint, type BtlRegistration } from '@switchyard/btl-interface';
import { timeout } from '../round.js';
import type { TrafficContext } from './traffic.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';

const SLOT = 4096;
const UNTOUCHED = 0xa5;

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

/** rdma: registered memory can be written (PUT) and read (GET) by peers, and not after release. */
export async function checkRdma({ wiring, host, waitMs }: TrafficContext): Promise<Verdict> {
  const rdma = wiring.modules.map((m, i) => [m, i] as const).filter(([m]) => m.flags & BtlFlag.RDMA);
  if (!rdma.length) return notApplicable('no module is flagged PUT or GET');
  const v: string[] = [];
  const me = wiring.rank;
  const size = wiring.reach.length;
  const op = (what: string, run: (done: (error?: Error) => void) => void): Promise<Error | undefined | 'timeout'> => {
    const wait = timeout(waitMs);
    const finished = new Promise<Error | undefined>((resolve) => {
      try {
        run((error) => resolve(error));
      } catch (error) {
        v.push(`${what} threw: ${(error as Error).message}`);
        resolve(error as Error);
      }
    });
    return Promise.race([finished, wait.promise.then(() => 'timeout' as const)]).finally(() => wait.cancel());
  };
  for (const [module, i] of rdma) {
    // Slot 0 is what peers read; slot 1 + r is where rank r writes.
    const region = new Uint8Array(SLOT * (size + 1));
    region.set(pattern(SLOT, me), 0);
    let registration: BtlRegistration;
    try {
      registration = module.registerMemory!(region);
    } catch (error) {
      v.push(`'${module.name}'.registerMemory threw: ${(error as Error).message}`);
      continue;
    }
    const handles = (await wiring.wireup.exchange({ handle: registration.handle ?? null }, `kit-rdma-${i}`)).map((e) => e.handle);
    const each = async (task: (peer: number, endpoint: BtlEndpoint) => Promise<void>) => {
      await Promise.all([...wiring.endpoints[i]!.entries()].map(([peer, endpoint]) => task(peer, endpoint)));
    };
    /**
     * Accesses the owner must refuse: each completes with an error and changes nothing, neither the
     * initiator's buffer (a get) nor the owner's registered bytes (a put).
     */
    const refusedAccesses = async (phase: string, accesses: (peer: number) => { offset: number; what: string }[]) => {
      const owned = Uint8Array.from(region);
      await each(async (peer, endpoint) => {
        for (const { offset, what } of accesses(peer)) {
          if (module.flags & BtlFlag.GET) {
            const local = new Uint8Array(SLOT).fill(UNTOUCHED);
            const result = await op(`get of ${what}`, (done) => module.get!(endpoint, local, handles[peer], offset, done));
            v.push(...refusal(`a get of ${what}`, result, waitMs));
            if (local.some((b) => b !== UNTOUCHED)) v.push(`a get of ${what} wrote into the local buffer; a refused get changes nothing`);
          }
          if (module.flags & BtlFlag.PUT) {
            const result = await op(`put to ${what}`, (done) =>
              module.put!(endpoint, pattern(SLOT, 2000 + me), handles[peer], offset, done),
            );
            v.push(...refusal(`a put to ${what}`, result, waitMs));
          }
        }
      });
      await module.flush();
      await wiring.sync(`${phase}-done`);
      if (Buffer.compare(region, owned) !== 0)
        v.push(`a refused put (${phase.endsWith('release') ? 'to released memory' : 'past the end of the registration'}) ` +
          `changed this rank's registered bytes; a put that fails must write nothing`);
    };
    await each(async (peer, endpoint) => {
      if (module.flags & BtlFlag.GET) {
        const local = new Uint8Array(SLOT);
        const result = await op(`get from rank ${peer}`, (done) => module.get!(endpoint, local, handles[peer], 0, done));
        if (result === 'timeout') v.push(`get from rank ${peer} did not complete within ${waitMs} ms`);
        else if (result) v.push(`get from rank ${peer} failed: ${result.message}`);
        else if (Buffer.compare(local, pattern(SLOT, peer)) !== 0) v.push(`get from rank ${peer} read the wrong bytes`);
      }
      if (module.flags & BtlFlag.PUT) {
        const result = await op(`put to rank ${peer}`, (done) =>
          module.put!(endpoint, pattern(SLOT, 1000 + me), handles[peer], SLOT * (1 + me), done),
        );
        if (result === 'timeout') v.push(`put to rank ${peer} did not complete within ${waitMs} ms`);
        else if (result) v.push(`put to rank ${peer} failed: ${result.message}`);
      }
    });
    await module.flush();
    await wiring.sync(`rdma-${i}-written`);
    if (module.flags & BtlFlag.PUT) {
      for (const sender of wiring.senders().filter((s) => s.moduleIndex === i)) {
        const slot = region.subarray(SLOT * (1 + sender.rank), SLOT * (2 + sender.rank));
        if (Buffer.compare(slot, pattern(SLOT, 1000 + sender.rank)) !== 0)
          v.push(
            `the bytes rank ${sender.rank} put into this rank's registered memory are not there after its put completed and flush resolved`,
          );
      }
    }
    // Past the end: one access that straddles it (a bound taken with subarray clamps it and succeeds) and one past it.
    const ranges = [
      { offset: region.length - SLOT / 2, what: `${SLOT} bytes at offset ${region.length - SLOT / 2}` },
      { offset: region.length + 1, what: `${SLOT} bytes at offset ${region.length + 1}` },
    ];
    await refusedAccesses(`rdma-${i}-range`, (peer) => ranges.map(({ offset, what }) => ({
      offset,
      what: `${what} of rank ${peer}'s ${region.length} registered bytes`,
    })));
    registration.release();
    await wiring.sync(`rdma-${i}-released`);
    await refusedAccesses(`rdma-${i}-after-release`, (peer) => [{ offset: 0, what: `memory rank ${peer} had released` }]);
    await wiring.sync(`rdma-${i}-end`);
  }
  return verdictOf([...v, ...host.takeStrays()]);
}

/** What an access the owner must refuse did wrong: it succeeded, or never completed. */
function refusal(what: string, result: Error | undefined | 'timeout', waitMs: number): string[] {
  if (result === undefined) return [`${what} succeeded; it must fail through done(error)`];
  if (result === 'timeout') return [`${what} did not complete within ${waitMs} ms (it must fail through done(error))`];
  return [];
}
