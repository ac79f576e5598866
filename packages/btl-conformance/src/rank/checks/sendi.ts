import { BtlFlag, type BtlEndpoint, type BtlModule } from '@switchyard/btl-interface';
import { HEADER, KitTest, makeFragment, tagOf } from '../fragments.js';
import { runRound } from '../round.js';
import type { TrafficContext } from './traffic.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';

/** Fragments per endpoint: every other one offered to sendi, the rest sent with send, sizes from the header's to maxSendSize. */
const COUNT = 200;

/**
 * sendi: a module that offers sendi() (Open MPI's btl_sendi) copies what it takes before it
 * returns: the kit scribbles over a fragment as soon as sendi() returned true, as the PML hands
 * the buffer back to the application then. What it takes arrives whole, once, intact, in the
 * order sent when the module is ORDERED (one order with send()'s fragments); what it cannot
 * take it declines with false, sending nothing: a tag above 255 and a fragment over
 * maxSendSize among them. It never throws.
 */
export async function checkSendi({ wiring, host, waitMs }: TrafficContext): Promise<Verdict> {
  const offering = wiring.modules.filter((m) => typeof m.sendi === 'function');
  if (!offering.length) return notApplicable('no module of the component offers sendi()');
  const v = refusalsOf(wiring.modules, wiring.endpoints);
  const sizeOf = (module: BtlModule, seq: number) =>
    seq % 40 === 9 ? module.maxSendSize : Math.min(module.maxSendSize, HEADER + ((seq * 53) % 700));
  const sizes = (module: BtlModule) => Array.from({ length: COUNT }, (_, seq) => sizeOf(module, seq));
  const round = await runRound(wiring, host, 'sendi', {
    test: KitTest.SENDI,
    sizes: (_, i) => sizes(wiring.modules[i]!),
    checkOrder: true,
    immediate: true,
    waitMs,
  });
  v.push(...round.violations);
  const ordered = offering.some((m) => m.flags & BtlFlag.ORDERED) ? ', in order' : '';
  host.log(`sendi: ${round.immediate} of ${round.fragments} fragments went by sendi() and arrived intact${ordered}; send() took the rest`);
  return verdictOf(v);
}

/** sendi() with a tag above 255, and with one byte over maxSendSize: false, and nothing sent. */
function refusalsOf(modules: readonly BtlModule[], endpoints: ReadonlyArray<ReadonlyMap<number, BtlEndpoint>>): string[] {
  const v: string[] = [];
  modules.forEach((module, i) => {
    if (typeof module.sendi !== 'function') return;
    for (const [peer, endpoint] of endpoints[i]!) {
      const cases: Array<[string, number, number]> = [
        ['on tag 256', 256, HEADER],
        [`of maxSendSize + 1 (${module.maxSendSize + 1}) bytes`, tagOf(KitTest.SENDI), module.maxSendSize + 1],
      ];
      for (const [what, tag, bytes] of cases) {
        let taken: unknown;
        try {
          taken = module.sendi(endpoint, tag, [makeFragment(KitTest.SENDI, { sender: -1 >>> 0, seq: 0, moduleIndex: i }, bytes)]);
        } catch (error) {
          v.push(`${module.name}: sendi() of a fragment ${what} to rank ${peer} threw: ${(error as Error).message} (it must return false)`);
          continue;
        }
        if (taken !== false) v.push(`${module.name}: sendi() of a fragment ${what} to rank ${peer} returned ${String(taken)}, not false`);
      }
    }
  });
  return v;
}
