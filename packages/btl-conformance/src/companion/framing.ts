import { encodeFrame as encodeBaseFrame, FRAME_HEADER_SIZE, FrameDecoder, type FrameFormat } from '@switchyard/btl-base';

/** A frame on a companion connection: the btl base's frame with the kit's magic 'SK', one type. */
export const FRAME_HEADER = FRAME_HEADER_SIZE;
/** Tag of the first frame a caller sends: who it is, proven with the job's secret. */
export const HELLO_TAG = 0;

const FRAME = 1;

const COMPANION_FRAMES: FrameFormat = Object.freeze({
  magic: 0x534b,
  peer: 'conformance kit companion',
  controlLimit: 4096,
  check(type: number, length: number, dataLimit: number): string | undefined {
    if (type !== FRAME) return `unknown frame type ${type}`;
    return length > dataLimit ? `frame of ${length} bytes exceeds the limit of ${dataLimit}` : undefined;
  },
});

export function encodeFrame(tag: number, segments: readonly Uint8Array[]): Buffer {
  return encodeBaseFrame(COMPANION_FRAMES, FRAME, tag, segments);
}

/**
 * Cuts a byte stream into frames; refuses one larger than `limit` (a corrupt or hostile stream).
 * A payload is a view, valid during `onFrame` only.
 */
export class FrameReader extends FrameDecoder {
  constructor(limit: number, onFrame: (tag: number, payload: Buffer) => void) {
    super(COMPANION_FRAMES, (_type, tag, payload) => onFrame(tag, payload), limit);
  }
}
