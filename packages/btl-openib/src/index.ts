/**
 * @switchyard/btl-openib: the openib BTL component (default export), and the verbs layer under
 * it (also at `@switchyard/btl-openib/verbs`): the provider interface, the native libibverbs
 * provider and the software provider.
 */
import { component } from './btl/component.js';

export default component;
export { component };
export { OpenibModule, type OpenibModuleOptions, type OpenibRemoteHandle } from './btl/module.js';
export { registerParams, readSettings, type OpenibSettings, type ProviderSetting } from './btl/params.js';
export { parseCard, unreachableBecause, type OpenibCard } from './btl/card.js';
export { selectProvider } from './btl/select.js';
export * from './verbs/index.js';
