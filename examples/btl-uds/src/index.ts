// The entry module: Switchyard imports the package and takes its default export as the component.
import { component } from './component.js';

export default component;
export { component };
export { UdsModule, type UdsModuleOptions } from './module.js';
export { parseCard, unreachableReason, type UdsCard } from './card.js';
