import type { BtlEndpoint, BtlModule } from '@switchyard/btl-interface';
import { HEADER, KitTest, makeFragment, tagOf } from '../fragments.js';
import { runRound, type Immediate } from '../round.js';
import type { TrafficContext } from './traffic.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';

/** Fragments per endpoint in each round, sizes from the kit's header to maxSendSize. */
const COUNT = 200;

/**
 * sendi: a module that offers sendi() (Open MPI's btl_sendi) copies what it takes before it
 * returns: the kit scribbles over a fragment as soon as sendi() returned true, as the PML hands
 * the buffer back to the application then. What it takes arrives whole, once, intact, in the
 * order sent when the module is ORDERED (one order with send()'s fragments); what it cannot
 * take it declines with false, sending nothing: a tag above 255 and a fragment over
 * maxSendSize among them. It never throws, and takes something when offered fragments alone on
 * an idle link.
 */
export async function checkSendi({ wiring, host, waitMs }: TrafficContext): Promise<Verdict> {
  const offering = wiring.modules.filter((m) => typeof m.sendi === 'function');
  if (!offering.length) return notApplicable('no module of the component offers sendi()');
  const v = refusalsOf(wiring.modules, wiring.endpoints);
  const sizeOf = (module: BtlModule, seq: number) =>
    seq % 40 === 9 ? module.maxSendSize : Math.min(module.maxSendSize, HEADER + ((seq * 53) % 700));
  const sizes = (module: BtlModule) => Array.from({ length: COUNT }, (_, seq) => sizeOf(module, seq));
  const round = (name: string, immediate: Immediate) =>
    runRound(wiring, host, name, { test: KitTest.SENDI, sizes: (_, i) => sizes(wiring.modules[i]!), checkOrder: true, immediate, waitMs });
  // First alone, each fragment on an idle link, where sendi can take any size; then interleaved with send().
  const alone = await round('sendi-alone', 'alone');
  v.push(...alone.violations);
  if (alone.immediate === 0 && !alone.violations.length) {
    v.push(
      `sendi() declined all ${alone.fragments} fragments, each offered alone on an idle link once everything sent before it had ` +
        'completed (sizes from the kit\'s header to maxSendSize): a sendi that takes nothing is never of use; take what can be ' +
        'copied at once, or leave sendi out',
    );
  }
  const interleaved = await round('sendi-interleaved', 'interleaved');
  if (interleaved.violations.some((m) => / though the module is flagged ORDERED/.test(m))) {
    v.push(
      'every other fragment went to sendi(), the rest to send(), in one run: a fragment sendi() takes must not overtake those ' +
        'send() still holds for that peer (decline while anything of send()\'s is queued)',
    );
  }
  v.push(...interleaved.violations);
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
