import type { BtlErrorEvent } from '@switchyard/btl-interface';

/**
 * What the `host.error` reports made while the module refused sends say, the refusals of tag 256
 * sent first (everywhere), those of maxSendSize + 1 bytes after. Reports after the tag refusals:
 * the module reports a refusal as a lost link. Reports after the oversize ones only: the sending
 * side skipped its size check, so the fragment went on the wire and the link broke under it (a
 * receiver that checks the size drops a connection carrying one): that check is the cause, not the
 * report, which is the link's honest loss.
 */
export function refusalErrorProblems(errors: readonly BtlErrorEvent[], atStart: number, afterTags: number): string[] {
  const words = (event: BtlErrorEvent) => `host.error (${event.severity}: ${event.error?.message})`;
  if (errors.length > afterTags && afterTags === atStart) {
    return errors.slice(afterTags, afterTags + 2).map((event) =>
      `${words(event)} followed the sends of fragments of maxSendSize + 1 bytes (the refusals of tag 256 caused none): the sending ` +
        `side skipped its maxSendSize check, so the fragment went on the wire and the link failed under it (a receiver that checks ` +
        `the size drops such a connection); send must refuse a fragment over maxSendSize itself: done(error), nothing sent`);
  }
  // A refusal is the caller's mistake, not the link's: reported through host.error, the BML
  // would take a healthy link down (docs/writing-a-btl.md, section 10).
  return errors.slice(atStart, atStart + 2).map((event) =>
    `${words(event)} was reported while the module refused sends (tag 256, over maxSendSize) on a healthy link; a refusal is ` +
      `done(error) alone, the link stays up`);
}
