import { BtlTag } from '@switchyard/btl-interface';
import type { FragmentSink, KitHost } from '../kit-host.js';
import { timeout } from '../round.js';
import type { Wiring } from '../wiring.js';

/** Every tag the BML and PML may use: a BTL keeps only 0x20-0x2f for itself. */
const TAGS = Array.from({ length: BtlTag.MAX - BtlTag.BML_BASE + 1 }, (_, i) => BtlTag.BML_BASE + i);
const LENGTH = 8;

/** sender rank, tag, then a pattern of both: a fragment says which tag it was sent with. */
function tagged(sender: number, tag: number): Uint8Array {
  const bytes = new Uint8Array(LENGTH);
  bytes[0] = sender & 0xff;
  bytes[1] = tag;
  for (let i = 2; i < LENGTH; i++) bytes[i] = (sender * 31 + tag * 7 + i) & 0xff;
  return bytes;
}

/**
 * Part of send-sizes: one small fragment on every tag from BML_BASE to MAX (0x30-0xff) to every
 * endpoint; each must reach host.receive once, with the tag it was sent with (a transport that
 * keeps a high tag for its own keep-alives, or masks tags to 7 bits, fails here).
 */
export async function tagRound(wiring: Wiring, host: KitHost, waitMs: number): Promise<string[]> {
  const v: string[] = [];
  const note = (message: string) => {
    if (v.length < 12) v.push(message);
  };
  const senders = wiring.senders();
  const expected = senders.length * TAGS.length;
  // A rank with several modules of the component sends each tag once per module.
  const perRank = new Map<number, number>();
  for (const s of senders) perRank.set(s.rank, (perRank.get(s.rank) ?? 0) + 1);
  const seen = new Map<string, number>();
  let arrived = 0;
  let complete: () => void = () => {};
  const all = new Promise<void>((resolve) => (complete = resolve));
  const saved = new Map(TAGS.map((tag) => [tag, host.sinkOf(tag)]));
  for (const tag of TAGS) {
    const sink: FragmentSink = (from, data) => {
      const key = `${from}/${tag}`;
      const sent = tagged(from, tag);
      if (data.length !== LENGTH || data[1] !== tag || data[0] !== (from & 0xff)) {
        const was = data.length === LENGTH ? `tag 0x${data[1]!.toString(16)} from rank ${data[0]}` : `${data.length} bytes`;
        note(`a fragment delivered with tag 0x${tag.toString(16)} from rank ${from} was sent as ${was}`);
      } else if (!sent.every((b, i) => data[i] === b)) {
        note(`the fragment with tag 0x${tag.toString(16)} from rank ${from} arrived damaged`);
      }
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      if (count > (perRank.get(from) ?? 0)) note(`the fragment with tag 0x${tag.toString(16)} from rank ${from} arrived twice`);
      else if (++arrived >= expected) complete();
    };
    host.sink(tag, sink);
  }
  if (expected === 0) complete();
  try {
    await wiring.sync('tags-start');
    wiring.modules.forEach((module, i) => {
      for (const endpoint of wiring.endpoints[i]!.values()) {
        for (const tag of TAGS) {
          try {
            module.send(endpoint, tag, [tagged(wiring.rank, tag)]);
          } catch (error) {
            note(`send with tag 0x${tag.toString(16)} threw: ${(error as Error).message}`);
          }
        }
      }
    });
    const wait = timeout(waitMs);
    if (!(await Promise.race([all.then(() => true), wait.promise]))) {
      const ranks = [...perRank.keys()];
      const short = (rank: number, t: number) => (seen.get(`${rank}/${t}`) ?? 0) < perRank.get(rank)!;
      const missing = ranks.flatMap((r) => TAGS.filter((t) => short(r, t)).map((t) => `0x${t.toString(16)} from rank ${r}`));
      note(
        `after ${waitMs} ms, ${expected - arrived} of ${expected} fragments sent on tags 0x30-0xff had not arrived ` +
          `(${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}); every tag above 0x2f is the BML's and PML's`,
      );
    }
    wait.cancel();
  } finally {
    for (const [tag, sink] of saved) host.sink(tag, sink);
  }
  await wiring.sync('tags-end');
  return v;
}
