import { encodeFrame, FrameDecoder, type FrameFormat, type FrameSink } from '@switchyard/btl-base';

/**
 * The wire format of `switchyard-btl-uds/1`: the btl base's frame, an 8-byte header and its
 * payload.
 *
 *   0      2      3     4              8
 *   | 'SU' | type | tag | length (BE)  | payload (length bytes) ...
 */

export const MAGIC = 0x5355;

export const FrameType = Object.freeze({
  /** Acceptor → connector: `{ protocol, nonce }`. */
  CHALLENGE: 1,
  /** Connector → acceptor: `{ job, from, to, nonce, mac }`. */
  RESPONSE: 2,
  /** Acceptor → connector: `{ mac }`, proof that it is the rank the connector meant to reach. */
  ACCEPT: 3,
  /** Connector → acceptor: one fragment. */
  DATA: 4,
});
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Handshake frames are small JSON objects. */
export const CONTROL_LIMIT = 4096;

/** The btl base's length-prefixed frame with this transport's magic and frame types. */
export const UDS_FRAMES: FrameFormat = Object.freeze({
  magic: MAGIC,
  peer: 'switchyard-btl-uds',
  controlLimit: CONTROL_LIMIT,
  check(type: number, length: number, dataLimit: number): string | undefined {
    if (type < FrameType.CHALLENGE || type > FrameType.DATA) return `unknown frame type ${type}`;
    const limit = type === FrameType.DATA ? dataLimit : CONTROL_LIMIT;
    return length > limit ? `frame of ${length} bytes exceeds the limit of ${limit}` : undefined;
  },
});

/** One frame in one buffer: the module copies each fragment once, so the caller may reuse its segments. */
export function encodeUdsFrame(type: FrameType, tag: number, segments: readonly Uint8Array[]): Buffer {
  return encodeFrame(UDS_FRAMES, type, tag, segments);
}

export function encodeControl(type: FrameType, message: object): Buffer {
  return encodeUdsFrame(type, 0, [Buffer.from(JSON.stringify(message), 'utf8')]);
}

/**
 * Cuts a byte stream into frames. A payload is handed out as a view, valid during the sink call
 * only (the BTL contract lets `host.receive` data be such a view). Throws FrameError on a
 * malformed stream; the caller drops the connection.
 */
export class FrameReader extends FrameDecoder<FrameType> {
  constructor(sink: FrameSink<FrameType>, dataLimit: number) {
    super(UDS_FRAMES, sink, dataLimit);
  }
}
