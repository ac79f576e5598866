import { component } from './component.js';

export default component;
export { component };
export { SmModule, type SmModuleOptions } from './module.js';
export { registerParams, readSettings, checkSettings, type SmSettings } from './params.js';
export { parseCard, type SmCard } from './card.js';
export { SmError, SmErrorCodes, type SmErrorCode } from './errors.js';
export { loadNative, unavailableReason, ADDON_PATH_ENV, NATIVE_ABI_VERSION, type SmAddon } from './native.js';
export type { SmHandle } from './registry.js';
