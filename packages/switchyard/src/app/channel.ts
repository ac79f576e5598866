import { collectivesMismatch } from './typed.js';

/**
 * One collective call's view of its communicator: ranks are the communicator's, and every
 * message goes in the collective context under the tag of this call, so calls in flight at once
 * (non-blocking collectives) never take each other's messages.
 */
export interface Channel {
  readonly rank: number;
  readonly size: number;
  /** Resolves when `data` may be reused. */
  send(data: Uint8Array, dest: number): Promise<void>;
  /** The next message of this call from `source`, received into `into` when given (a view of it). */
  recv(source: number, into?: Uint8Array): Promise<Uint8Array>;
}

/** Sends and receives at once (a step of a ring or a pairwise exchange): what arrived (in `into` when given). */
export async function exchange(ch: Channel, data: Uint8Array, dest: number, source: number, into?: Uint8Array): Promise<Uint8Array> {
  const got = ch.recv(source, into);
  // The receive may fail (a lost peer) while the send is awaited, or be left behind by a send
  // that failed: handled here, so that the failure reaches the caller, not Node's unhandled rejection.
  got.catch(() => undefined);
  await ch.send(data, dest);
  return got;
}

/**
 * A step of a ring or pairwise exchange that does not wait for its send: what arrived (in `into`
 * when given). The send goes into `sends`, to be awaited before `data` may change: in these
 * algorithms no block changes after it was sent, so a step waits only for its incoming block,
 * not for the acknowledgement a send of more than a few KiB completes with.
 */
export function shift(
  ch: Channel,
  data: Uint8Array,
  dest: number,
  source: number,
  sends: Promise<void>[],
  into?: Uint8Array,
): Promise<Uint8Array> {
  const got = ch.recv(source, into);
  // As in exchange: the caller may await its sends before this receive.
  got.catch(() => undefined);
  const sent = ch.send(data, dest);
  // Handled here so a failure waits for the final await instead of being reported unhandled.
  sent.catch(() => undefined);
  sends.push(sent);
  return got;
}

/** Blocks of varying size as one message: `[count u32][length u32 × count][bytes…]`. */
export function packBlocks(blocks: readonly Uint8Array[]): Uint8Array {
  const head = 4 + 4 * blocks.length;
  const out = new Uint8Array(head + blocks.reduce((n, b) => n + b.length, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, blocks.length, true);
  let at = head;
  blocks.forEach((b, i) => {
    view.setUint32(4 + 4 * i, b.length, true);
    out.set(b, at);
    at += b.length;
  });
  return out;
}

export function unpackBlocks(message: Uint8Array): Uint8Array[] {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const bad = () => collectivesMismatch(`a collective's message of ${message.length} bytes is not a list of blocks`);
  if (message.length < 4) throw bad();
  const count = view.getUint32(0, true);
  const blocks: Uint8Array[] = [];
  let at = 4 + 4 * count;
  if (at > message.length) throw bad();
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(4 + 4 * i, true);
    if (at + length > message.length) throw bad();
    blocks.push(message.subarray(at, at + length));
    at += length;
  }
  if (at !== message.length) throw bad();
  return blocks;
}
