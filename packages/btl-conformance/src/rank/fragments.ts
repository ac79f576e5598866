import { BtlTag } from '@switchyard/btl-interface';

/** The kit's fragments carry tags from USER_BASE up: one per check, so a late fragment never counts for the next. */
export const KitTest = Object.freeze({
  WARMUP: 1,
  SIZES: 2,
  TINY: 3,
  EAGER: 4,
  ORDERING: 5,
  FLUSH: 6,
  BACK_PRESSURE: 7,
  ERRORS: 8,
  RELOAD: 9,
  COMPLETION: 10,
  REFUSED: 11,
  EARLY: 12,
  SOAK: 13,
  NEW_CARD: 14,
  STOPPED: 15,
  FINALIZE_STOPPED: 16,
  MEMORY: 17,
  KEPT: 18,
  LONG_RUN: 19,
  AFTER_REFUSALS: 20,
  CROSS_TALK: 21,
  WIDE_DELETED: 22,
  LINK_CUT: 23,
  WIDE_ONE_DELETED: 24,
  LOSS_BYSTANDER: 25,
  WINDOW: 26,
  /** The ordering check's second tag (its fragments are ORDERING's). */
  ORDERING_OTHER_TAG: 27,
  PROGRESS: 28,
  SENDI: 29,
  /** Sent by a second instance of the component with a wrong secret: none may arrive. */
  IMPOSTOR: 30,
  AFTER_IMPOSTOR: 31,
});

export const tagOf = (test: number): number => BtlTag.USER_BASE + test;
export const testOf = (tag: number): number => tag - BtlTag.USER_BASE;

const MAGIC = 0x544b5953; // 'SYKT'
/** magic, sender rank, sequence number, total length, sender's module index. */
export const HEADER = 20;

export interface FragmentId {
  readonly sender: number;
  readonly seq: number;
  readonly length: number;
  readonly moduleIndex: number;
}

function seedOf(test: number, sender: number, seq: number): number {
  return (sender * 977 + seq * 131 + test * 7) & 0xff;
}

/** The pattern a fragment's bytes after `from` carry, from its seed: a damaged byte shows. */
export function fill(bytes: Uint8Array, from: number, seed: number): void {
  for (let i = from; i < bytes.length; i++) bytes[i] = (seed + i * 131) & 0xff;
}

/** A fragment of `length` bytes (at least HEADER) identifying itself, filled with a pattern only it has. */
export function makeFragment(test: number, id: Omit<FragmentId, 'length'>, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, id.sender, true);
  view.setUint32(8, id.seq, true);
  view.setUint32(12, length, true);
  view.setUint32(16, id.moduleIndex, true);
  fill(bytes, HEADER, seedOf(test, id.sender, id.seq));
  return bytes;
}

/** Reads a fragment's identity and checks its bytes; a string says what is wrong. */
export function readFragment(test: number, data: Uint8Array): FragmentId | string {
  if (data.length < HEADER) return `a fragment of ${data.length} bytes, shorter than the kit's ${HEADER}-byte header`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return 'a fragment without the kit\'s header (corrupted, or another check\'s bytes)';
  const id: FragmentId = {
    sender: view.getUint32(4, true),
    seq: view.getUint32(8, true),
    length: view.getUint32(12, true),
    moduleIndex: view.getUint32(16, true),
  };
  if (id.length !== data.length)
    return `fragment ${id.seq} from rank ${id.sender} was sent with ${id.length} bytes and arrived with ${data.length}`;
  const seed = seedOf(test, id.sender, id.seq);
  for (let i = HEADER; i < data.length; i++) {
    if (data[i] !== ((seed + i * 131) & 0xff))
      return `fragment ${id.seq} (${id.length} bytes) from rank ${id.sender} arrived damaged at byte ${i}`;
  }
  return id;
}

/** Fragments shorter than the header: identified by their length alone (each size is sent once). */
export function makeTiny(sender: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  fill(bytes, 0, seedOf(KitTest.TINY, sender, length));
  return bytes;
}

export function tinyIsIntact(sender: number, data: Uint8Array): boolean {
  const seed = seedOf(KitTest.TINY, sender, data.length);
  for (let i = 0; i < data.length; i++) if (data[i] !== ((seed + i * 131) & 0xff)) return false;
  return true;
}

/** Cuts a fragment into 1, 2 or 3 segments (one of them empty sometimes), as a header and payload would be. */
export function segmentsOf(bytes: Uint8Array, seq: number): Uint8Array[] {
  const cut = Math.min(bytes.length, HEADER);
  switch (seq % 4) {
    case 1:
      return [bytes.subarray(0, cut), bytes.subarray(cut)];
    case 2:
      return [bytes.subarray(0, cut), new Uint8Array(0), bytes.subarray(cut)];
    case 3: {
      const mid = cut + Math.floor((bytes.length - cut) / 2);
      return [bytes.subarray(0, cut), bytes.subarray(cut, mid), bytes.subarray(mid)];
    }
    default:
      return [bytes];
  }
}
