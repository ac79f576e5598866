import { MpiError } from './errors.js';
import type { NumericArray } from './typed.js';

const BUILTIN_OPS = ['sum', 'prod', 'min', 'max', 'land', 'lor', 'lxor', 'band', 'bor', 'bxor', 'maxloc', 'minloc'] as const;
/**
 * Built-in reduction operations, element by element (MPI_SUM … MPI_MINLOC). `maxloc` / `minloc`
 * take arrays of (value, index) pairs laid out one after the other, `[v0, i0, v1, i1, …]`: the
 * larger (smaller) value wins, the lower index on a tie.
 */
export type BuiltinOp = (typeof BUILTIN_OPS)[number];

/**
 * A user-defined operation (MPI_Op_create), applied element by element: `(a, b) => a op b`.
 * Like every built-in one it must be associative and commutative: the collectives combine
 * partial results in whatever order their algorithm needs (MPI's `commute = true`); `scan` and
 * `exscan` alone keep rank order.
 */
export type UserOp = ((a: number, b: number) => number) | ((a: bigint, b: bigint) => bigint);

/** What `reduce`, `allreduce`, `scan`, `exscan` and `reduceScatter` combine with. */
export type ReduceOp = BuiltinOp | UserOp;

export const [SUM, PROD, MIN, MAX, LAND, LOR, LXOR, BAND, BOR, BXOR, MAXLOC, MINLOC] = BUILTIN_OPS;

type Element = number | bigint;
type Fn = (a: Element, b: Element) => Element;

const truth = (x: Element): boolean => x !== 0 && x !== 0n;
/** A logical result in the array's own element type (1 / 0, or 1n / 0n). */
const logical = (like: Element, value: boolean): Element => (typeof like === 'bigint' ? BigInt(value) : Number(value));

// Numbers and bigints never meet: every array combined with another has its element type (checked first).
/* eslint-disable @typescript-eslint/no-explicit-any */
const ELEMENTWISE: Record<Exclude<BuiltinOp, 'maxloc' | 'minloc'>, Fn> = {
  sum: (a, b) => (a as any) + (b as any),
  prod: (a, b) => (a as any) * (b as any),
  min: (a, b) => (b < a ? b : a),
  max: (a, b) => (b > a ? b : a),
  land: (a, b) => logical(a, truth(a) && truth(b)),
  lor: (a, b) => logical(a, truth(a) || truth(b)),
  lxor: (a, b) => logical(a, truth(a) !== truth(b)),
  band: (a, b) => (a as any) & (b as any),
  bor: (a, b) => (a as any) | (b as any),
  bxor: (a, b) => (a as any) ^ (b as any),
};
/* eslint-enable @typescript-eslint/no-explicit-any */

const BITWISE = new Set(['band', 'bor', 'bxor']);

export function checkOp(op: unknown): asserts op is ReduceOp {
  if (typeof op === 'function') return;
  if (typeof op !== 'string' || !(BUILTIN_OPS as readonly string[]).includes(op)) {
    throw new MpiError('ERR_OP', `unknown reduce op '${String(op)}': use ${BUILTIN_OPS.join(', ')} or a function (a, b) => a op b`);
  }
}

/** How many elements the op combines as one item: 2 for the (value, index) pairs of maxloc / minloc. */
export function itemLength(op: ReduceOp): number {
  return op === 'maxloc' || op === 'minloc' ? 2 : 1;
}

/** The op can combine this array's elements (bitwise ones need integers, the loc ones pairs). */
export function checkOpFor(op: ReduceOp, array: NumericArray): void {
  checkOp(op);
  if (typeof op !== 'string') return;
  if (BITWISE.has(op) && (array instanceof Float32Array || array instanceof Float64Array)) {
    throw new MpiError('ERR_OP', `reduce op '${op}' needs an integer array, got ${array.constructor.name}`);
  }
  if ((op === 'maxloc' || op === 'minloc') && array.length % 2 !== 0) {
    throw new MpiError('ERR_COUNT', `reduce op '${op}' needs (value, index) pairs: an even length, got ${array.length}`);
  }
}

/**
 * A reduction's part from rank `from` (of the communicator) next to this rank's: ranks that
 * passed arrays of different lengths or types are an error (MPI leaves it undefined), named here.
 */
export function checkPartFrom(from: number, theirs: NumericArray, mine: NumericArray): void {
  if (theirs.length === mine.length && theirs.constructor === mine.constructor) return;
  const shape = (a: NumericArray) => `${a.constructor.name}[${a.length}]`;
  throw new MpiError(
    'ERR_COUNT',
    `ranks passed arrays of different lengths or types to a reduction: the part from rank ${from} is ${shape(theirs)}, ` +
      `this rank's ${shape(mine)}`,
  );
}

/**
 * Rank `from` sent a part of a reduction of another size than this rank's array makes it
 * (`bytes`; undefined: more than fit): it passed another length or type.
 */
export function partSizeFrom(from: number, expected: number, bytes?: number): MpiError {
  const sent = bytes === undefined ? `more than ${expected} bytes` : `${bytes} bytes`;
  return new MpiError(
    'ERR_COUNT',
    `ranks passed arrays of different lengths or types to a reduction: rank ${from} sent a part of ${sent} where ` +
      `this rank's array makes it ${expected}`,
  );
}

/** acc[i] = acc[i] op other[i], in place (acc holds the lower ranks' part where order matters). */
export function combine(op: ReduceOp, acc: NumericArray, other: NumericArray): void {
  if (acc.length !== other.length || acc.constructor !== other.constructor) {
    const arrays = `${acc.constructor.name}[${acc.length}] and ${other.constructor.name}[${other.length}]`;
    throw new MpiError('ERR_COUNT', `ranks passed arrays of different lengths to a reduction (${arrays})`);
  }
  const a = acc as unknown as Element[];
  const b = other as unknown as Element[];
  if (op === 'maxloc' || op === 'minloc') return combineLoc(op === 'maxloc', a, b);
  // 32-bit integer products wrap like C's, not like a double's rounding.
  if (op === 'prod' && (acc instanceof Int32Array || acc instanceof Uint32Array)) {
    for (let i = 0; i < a.length; i++) a[i] = Math.imul(a[i] as number, b[i] as number);
    return;
  }
  const f = (typeof op === 'string' ? ELEMENTWISE[op] : op) as Fn;
  for (let i = 0; i < a.length; i++) a[i] = f(a[i]!, b[i]!);
}

/**
 * A logical reduction's result is 1 or 0 (MPI_LAND, MPI_LOR, MPI_LXOR), also where nothing was
 * combined (one rank, scan's rank 0, exscan's rank 1): a rank's own values are made so, in place.
 */
export function asLogical<T extends NumericArray>(op: ReduceOp, result: T): T {
  if (op !== 'land' && op !== 'lor' && op !== 'lxor') return result;
  const a = result as unknown as Element[];
  for (let i = 0; i < a.length; i++) a[i] = logical(a[i]!, truth(a[i]!));
  return result;
}

function combineLoc(max: boolean, a: Element[], b: Element[]): void {
  for (let i = 0; i < a.length; i += 2) {
    const av = a[i]!;
    const bv = b[i]!;
    const better = max ? bv > av : bv < av;
    if (better || (bv === av && b[i + 1]! < a[i + 1]!)) {
      a[i] = bv;
      a[i + 1] = b[i + 1]!;
    }
  }
}
