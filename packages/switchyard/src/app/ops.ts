import type { NumericArray } from './typed.js';

/** Reduction operations of `reduce` / `allreduce`, element by element. */
export type ReduceOp = 'sum' | 'prod' | 'min' | 'max';
export const SUM: ReduceOp = 'sum';
export const PROD: ReduceOp = 'prod';
export const MIN: ReduceOp = 'min';
export const MAX: ReduceOp = 'max';

// Elements are numbers or bigints; combine() checks both arrays have the same type first.
/* eslint-disable @typescript-eslint/no-explicit-any */
const OPS: Record<ReduceOp, (a: any, b: any) => any> = {
  sum: (a, b) => a + b,
  prod: (a, b) => a * b,
  min: (a, b) => (b < a ? b : a),
  max: (a, b) => (b > a ? b : a),
};

/** acc[i] = acc[i] op other[i], in place. */
export function combine(op: ReduceOp, acc: NumericArray, other: NumericArray): void {
  const f = OPS[op];
  if (!f) throw new RangeError(`unknown reduce op '${op}': use sum, prod, min or max`);
  if (acc.length !== other.length || acc.constructor !== other.constructor) {
    throw new RangeError(
      `reduce: ranks passed different arrays (${acc.constructor.name}[${acc.length}] and ${other.constructor.name}[${other.length}])`,
    );
  }
  for (let i = 0; i < acc.length; i++) (acc as any)[i] = f((acc as any)[i], (other as any)[i]);
}
/* eslint-enable @typescript-eslint/no-explicit-any */

export function checkOp(op: string): asserts op is ReduceOp {
  if (!(op in OPS)) throw new RangeError(`unknown reduce op '${op}': use sum, prod, min or max`);
}
