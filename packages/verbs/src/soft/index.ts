/** The software verbs provider (userspace verbs between processes on one machine). */
export { SoftVerbsProvider, createSoftProvider, type SoftProviderOptions } from './provider.js';
export { softVerbsDir } from './runtime-dir.js';
