import { component } from './component.js';

export default component;
export { component };
export { TcpModule, type TcpModuleOptions, type ConnectionInfo } from './module.js';
export type { PeerState } from './endpoint.js';
export { registerParams, readSettings, checkSettings, type TcpSettings } from './params.js';
export { parseCard, type TcpCard, type CardAddress } from './card.js';
export {
  selectAddresses,
  parseCidr,
  checkInterfaceItem,
  isLoopback,
  type LocalAddress,
  type AddressSelection,
  type Family,
} from './interfaces.js';
export { candidateAddresses } from './reachability.js';
// The wire protocol, for conformance tools and tests that play a peer.
export {
  FrameError,
  FrameType,
  FrameDecoder,
  encodeHeader,
  encodeControl,
  HEADER_SIZE,
  MAGIC,
  CONTROL_LIMIT,
  TCP_FRAMES,
  type FrameSink,
} from './framing.js';
export {
  PROTOCOL,
  responseMac,
  acceptMac,
  encodeMessage,
  decodeChallenge,
  decodeResponse,
  decodeAccept,
  HandshakeError,
  type Challenge,
  type Response,
  type Accept,
  type Reject,
} from './handshake.js';
