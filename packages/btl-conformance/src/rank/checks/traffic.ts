import { BtlFlag, type BtlModule, type ComponentParams } from '@switchyard/btl-interface';
import { HEADER, KitTest, makeTiny, tagOf, tinyIsIntact } from '../fragments.js';
import { FIGURES } from '../size-params.js';
import type { KitHost } from '../kit-host.js';
import { runRound, timeout } from '../round.js';
import type { Wiring } from '../wiring.js';
import { tagRound } from './tags.js';
import { notApplicable, verdictOf, type Verdict } from './verdict.js';

export interface TrafficContext {
  readonly wiring: Wiring;
  readonly host: KitHost;
  readonly waitMs: number;
}

// 0: a fragment may be empty (the concatenation of its segments); it is delivered like any other.
const TINY_SIZES = [0, 1, 2, 7, 13, HEADER - 1];

/** Every size that matters up to maxSendSize: tiny, around the eager limit, the maximum. */
export function sizesUpTo(module: BtlModule): number[] {
  const { eagerLimit: e, maxSendSize: max } = module;
  const candidates = [
    HEADER,
    HEADER + 1,
    64,
    255,
    256,
    1000,
    1500,
    4095,
    4096,
    4097,
    65_536,
    e - 1,
    e,
    e + 1,
    Math.floor((e + max) / 2),
    max - 1,
    max,
  ];
  return [...new Set(candidates.filter((s) => s >= HEADER && s <= max))].sort((a, b) => a - b);
}

/** send-sizes: every size arrives whole, intact and once; tiny fragments too. */
export async function checkSendSizes({ wiring, host, waitMs }: TrafficContext): Promise<Verdict> {
  const round = await runRound(wiring, host, 'sizes', { test: KitTest.SIZES, sizes: (_, i) => sizesUpTo(wiring.modules[i]!), waitMs });
  const tiny = await tinyRound(wiring, host, waitMs);
  return verdictOf([...round.violations, ...tiny, ...(await tagRound(wiring, host, waitMs))]);
}

/** Fragments shorter than the kit's header: one of each size, recognised by length. */
async function tinyRound(wiring: Wiring, host: KitHost, waitMs: number): Promise<string[]> {
  const v: string[] = [];
  const seen = new Map<number, Set<number>>();
  const expected = wiring.senders().length * TINY_SIZES.length;
  let count = 0;
  let complete: () => void = () => {};
  const all = new Promise<void>((resolve) => (complete = resolve));
  host.sink(tagOf(KitTest.TINY), (from, data) => {
    const sizes = seen.get(from) ?? new Set();
    seen.set(from, sizes);
    if (!TINY_SIZES.includes(data.length))
      v.push(`a ${data.length}-byte fragment from rank ${from} arrived where ${TINY_SIZES.join(', ')}-byte ones were sent`);
    else if (!tinyIsIntact(from, data)) v.push(`the ${data.length}-byte fragment from rank ${from} arrived damaged`);
    sizes.add(data.length);
    if (++count >= expected) complete();
  });
  if (expected === 0) complete();
  await wiring.sync('tiny-start');
  wiring.modules.forEach((module, i) => {
    for (const endpoint of wiring.endpoints[i]!.values()) {
      for (const size of TINY_SIZES) {
        try {
          module.send(endpoint, tagOf(KitTest.TINY), [makeTiny(wiring.rank, size)]);
        } catch (error) {
          v.push(`send of a ${size}-byte fragment threw: ${(error as Error).message}`);
        }
      }
    }
  });
  const wait = timeout(waitMs);
  if (!(await Promise.race([all.then(() => true), wait.promise])))
    v.push(`after ${waitMs} ms only ${count} of ${expected} tiny fragments (${TINY_SIZES.join(', ')} bytes) had arrived`);
  wait.cancel();
  host.sink(tagOf(KitTest.TINY), undefined);
  await wiring.sync('tiny-end');
  return v;
}

/** A parameter's value, or undefined when the component did not declare it. */
function paramOrUndefined(params: ComponentParams, name: string): number | undefined {
  try {
    return params.get<number>(name);
  } catch {
    return undefined;
  }
}

/** eager-limit: a sane value, the one its parameter set, and a fragment of exactly that size goes through whole. */
export async function checkEagerLimit(
  { wiring, host, waitMs }: TrafficContext,
  params: ComponentParams,
  defaultProblems: readonly string[] = [],
): Promise<Verdict> {
  const v: string[] = [...defaultProblems];
  // A parameter the component did not declare has nothing to compare with.
  const configured = paramOrUndefined(params, 'eager_limit');
  const maxSend = paramOrUndefined(params, 'max_send_size');
  for (const m of wiring.modules) {
    if (!Number.isSafeInteger(m.eagerLimit) || m.eagerLimit < HEADER)
      v.push(`module '${m.name}': eagerLimit ${m.eagerLimit} is below the ${HEADER} bytes any header needs`);
    if (m.eagerLimit > m.maxSendSize)
      v.push(
        `module '${m.name}': eagerLimit ${m.eagerLimit} exceeds maxSendSize ${m.maxSendSize}, so an eager message could not be sent in ` +
          `one fragment`,
      );
    if (configured !== undefined && m.eagerLimit !== configured)
      v.push(`module '${m.name}': eagerLimit is ${m.eagerLimit}, but ${params.fullName('eager_limit')} is ${configured}`);
    if (maxSend !== undefined && m.maxSendSize !== maxSend)
      v.push(`module '${m.name}': maxSendSize is ${m.maxSendSize}, but ${params.fullName('max_send_size')} is ${maxSend}`);
    for (const figure of FIGURES) {
      const set = paramOrUndefined(params, figure);
      if (set !== undefined && m[figure] !== set)
        v.push(`module '${m.name}': ${figure} is ${m[figure]}, but ${params.fullName(figure)} is ${set} (the BML ranks modules ` +
          `by the field)`);
    }
  }
  if (v.length) return verdictOf(v);
  const round = await runRound(wiring, host, 'eager', {
    test: KitTest.EAGER,
    sizes: (_, i) => Array(4).fill(wiring.modules[i]!.eagerLimit),
    waitMs,
  });
  return verdictOf(round.violations);
}

/** ordering: checked only where claimed; others get exactly-once without order. */
export async function checkOrdering({ wiring, host, waitMs }: TrafficContext): Promise<Verdict> {
  if (!wiring.modules.some((m) => m.flags & BtlFlag.ORDERED))
    return notApplicable('no module is flagged ORDERED: the kit assumes no order (the PML never does)');
  const sizes = (module: BtlModule) =>
    Array.from({ length: 600 }, (_, seq) => Math.min(module.maxSendSize, seq % 50 === 7 ? 60_000 : HEADER + ((seq * 37) % 900)));
  const round = await runRound(wiring, host, 'ordering', {
    test: KitTest.ORDERING,
    alsoOn: KitTest.ORDERING_OTHER_TAG,
    sizes: (_, i) => sizes(wiring.modules[i]!),
    checkOrder: true,
    waitMs,
  });
  return verdictOf(round.violations);
}
