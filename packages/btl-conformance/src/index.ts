/**
 * @switchyard/btl-conformance: the test kit every BTL runs. `describeConformance` registers one
 * test per rule of the BTL API contract (1.x) with your test runner; the checks run in real
 * ranks started with `switchyard run` and driven with `switchyard ctl`.
 */
export { describeConformance } from './describe.js';
export { ConformanceError } from './conformance-error.js';
export { RULES, findRule, type Rule } from './rules.js';
export type { ConformanceOptions, TestFunction } from './options.js';
