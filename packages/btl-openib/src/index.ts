/**
 * @switchyard/btl-openib: the openib BTL component (default export). The verbs layer under it
 * (the provider interface, the native libibverbs provider and the software provider) is
 * @switchyard/verbs, re-exported here and at `@switchyard/btl-openib/verbs` as before.
 */
import { component } from './btl/component.js';

export default component;
export { component };
export { OpenibModule, type OpenibModuleOptions, type OpenibRemoteHandle } from './btl/module.js';
export { registerParams, readSettings, type OpenibSettings, type ProviderSetting } from './btl/params.js';
export { parseCard, unreachableBecause, type OpenibCard } from './btl/card.js';
export { selectProvider } from './btl/select.js';
export * from '@switchyard/verbs';
