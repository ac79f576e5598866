/**
 * The conformance kit's companion BTL: a small, known-good transport over Unix-domain sockets.
 * The kit loads it beside the BTL under test so traffic has somewhere to go while that BTL is
 * switched away from, unloaded and loaded again. Exported as a documented test double: the kit's
 * own broken fixtures (and yours, to prove your checks can fail) bend it by subclassing.
 */
export { CompanionModule, CompanionPeer, type CompanionCard, type CompanionIdentity, type CompanionSettings } from './module.js';
export { createCompanionComponent, type CompanionComponentOptions } from './component.js';
export { encodeFrame, FrameReader, FRAME_HEADER, HELLO_TAG } from './framing.js';
export const COMPANION_COMPONENT = 'kit_companion';
