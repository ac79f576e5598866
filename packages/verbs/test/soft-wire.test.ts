import { describe, expect, it } from 'vitest';
import { newSoftGid, pidOfSocketName, socketPathForGid } from '../src/soft/address.js';
import { encode, Nak, Op, PacketReader, type Packet } from '../src/soft/wire.js';
import { formatGid, parseGid } from '../src/constants.js';

/** Payloads as plain arrays, whatever view type carries them. */
const plain = (p: Packet) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v]));

describe('soft verbs packets', () => {
  const packets: Packet[] = [
    { op: Op.HELLO, srcQpn: 0x123456, dstQpn: 7, srcGid: newSoftGid(4242) },
    { op: Op.SEND, psn: 0xffffff, payload: new Uint8Array([1, 2, 3]) },
    { op: Op.WRITE, psn: 5, addr: 0x7f00_0000_1000n, rkey: 0xdeadbeef, payload: new Uint8Array(0) },
    { op: Op.READ, psn: 6, addr: 2n ** 63n, rkey: 1, length: 1 << 30 },
    { op: Op.ACK, psn: 9 },
    { op: Op.READ_RESP, psn: 10, payload: new Uint8Array(1000).fill(7) },
    { op: Op.NAK, psn: 11, code: Nak.RNR, rnrTimer: 31 },
  ];

  it('round-trip through frames cut at every possible place', () => {
    const stream = Buffer.concat(packets.map(encode));
    for (const cut of [1, 2, 3, 5, 7, 64, stream.length]) {
      const out: ReturnType<typeof plain>[] = [];
      // A payload is valid during the call only: keep a copy.
      const reader = new PacketReader((p) => out.push(plain(p)));
      for (let i = 0; i < stream.length; i += cut) reader.push(stream.subarray(i, i + cut));
      expect(out).toEqual(packets.map(plain));
    }
  });

  it('refuse a stream that is not a soft device\'s, and a packet too short for its op', () => {
    expect(() => new PacketReader(() => {}).push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(
      expect.objectContaining({ code: 'ERR_SWITCHYARD_BTL_FRAME' }),
    );
    const short = encode({ op: Op.ACK, psn: 1 }).subarray(0, 10);
    short.writeUInt32BE(2, 4);
    expect(() => new PacketReader(() => {}).push(short)).toThrow(/malformed packet/);
  });

  it('derive the socket name from the GID, with the owner pid in it', () => {
    const gid = newSoftGid(0x1234);
    const path = socketPathForGid('/run/x', gid);
    expect(path).toMatch(/^\/run\/x\/00001234[0-9a-f]{8}\.sock$/);
    expect(pidOfSocketName(path.slice('/run/x/'.length))).toBe(0x1234);
    expect(() => socketPathForGid('/run/x', '2001:0db8:0000:0000:0000:0000:0000:0001')).toThrow(/not a soft verbs GID/);
  });

  it('format and parse GIDs, shorthand included', () => {
    const bytes = parseGid('fe80::1');
    expect(formatGid(bytes)).toBe('fe80:0000:0000:0000:0000:0000:0000:0001');
    expect(() => parseGid('fe80:1')).toThrow(TypeError);
  });
});
