// Open MPI's btl base: what every BTL would otherwise write again.
export { registerBaseParams, readBaseSettings, checkBaseSettings, type BaseSettings, type BaseParamDefaults } from './params.js';
export { Fifo } from './fifo.js';
export {
  FRAME_HEADER_SIZE,
  ABSOLUTE_FRAME_LIMIT,
  ERR_BTL_FRAME,
  FrameError,
  encodeHeader,
  encodeFrame,
  writeHeader,
  type FrameFormat,
} from './frame-format.js';
export { FrameDecoder, READ_SIZE, DIRECT_MIN, type FrameSink } from './frame-decoder.js';
export { addonLoader, type AddonSpec, type AddonLoader, type AddonLoadOptions } from './addon-loader.js';
export { refuseLater } from './refuse.js';
export { soon } from './soon.js';
