import {
  ABSOLUTE_FRAME_LIMIT,
  FRAME_HEADER_SIZE,
  FrameDecoder as BaseFrameDecoder,
  encodeFrame,
  encodeHeader as encodeBaseHeader,
  type FrameFormat,
  type FrameSink,
} from '@switchyard/btl-base';

/**
 * The wire format: every frame, handshake and data alike, is the btl base's length-prefixed
 * frame (an 8-byte header and its payload) with btl-tcp's magic 'SY'.
 */

export { FrameError } from '@switchyard/btl-base';
export type { FrameSink };

export const HEADER_SIZE = FRAME_HEADER_SIZE;
export const MAGIC = 0x5359;

export const FrameType = Object.freeze({
  CHALLENGE: 1,
  RESPONSE: 2,
  ACCEPT: 3,
  REJECT: 4,
  DATA: 5,
  CLOSE: 6,
});
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Handshake frames are small JSON objects; nothing legitimate comes near this. */
export const CONTROL_LIMIT = 4096;

/**
 * The decoder's data limit until the peer has authenticated: only handshake frames (at most
 * CONTROL_LIMIT) are read; a DATA or CLOSE header closes the connection before its payload
 * is buffered, so an unauthenticated caller can make a rank hold no more than a handshake.
 */
export const HANDSHAKE_ONLY = -1;

/** Hard ceiling on any data frame, whatever the parameters say: the length field is 32 bits. */
export const ABSOLUTE_DATA_LIMIT = ABSOLUTE_FRAME_LIMIT;

export const TCP_FRAMES: FrameFormat = Object.freeze({
  magic: MAGIC,
  peer: 'switchyard btl-tcp',
  controlLimit: CONTROL_LIMIT,
  check(type: number, length: number, dataLimit: number): string | undefined {
    if (dataLimit === HANDSHAKE_ONLY && (type === FrameType.DATA || type === FrameType.CLOSE)) {
      return `${type === FrameType.DATA ? 'data' : 'close'} frame before the handshake completed`;
    }
    switch (type) {
      case FrameType.DATA:
        return length > dataLimit ? `data frame of ${length} bytes exceeds the limit of ${dataLimit}` : undefined;
      case FrameType.CLOSE:
        return length !== 0 ? `close frame with a ${length}-byte payload` : undefined;
      case FrameType.CHALLENGE:
      case FrameType.RESPONSE:
      case FrameType.ACCEPT:
      case FrameType.REJECT:
        return length > CONTROL_LIMIT ? `handshake frame of ${length} bytes exceeds ${CONTROL_LIMIT}` : undefined;
      default:
        return `unknown frame type ${type}`;
    }
  },
});

/** Cuts a btl-tcp byte stream into frames (see the btl base's FrameDecoder). */
export class FrameDecoder extends BaseFrameDecoder<FrameType> {
  constructor(sink: FrameSink<FrameType>, dataLimit: number, onError?: (error: Error) => void) {
    super(TCP_FRAMES, sink, dataLimit, onError);
  }
}

export function encodeHeader(type: FrameType, tag: number, length: number): Buffer {
  return encodeBaseHeader(TCP_FRAMES, type, tag, length);
}

/** A whole control frame in one buffer (they are tiny; one write keeps them atomic). */
export function encodeControl(type: FrameType, payload?: Uint8Array): Buffer {
  return encodeFrame(TCP_FRAMES, type, 0, payload ? [payload] : []);
}
