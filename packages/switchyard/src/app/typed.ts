import { shown } from '@switchyard/pml';
import { MpiError } from './errors.js';

/** Typed arrays travel with a one-byte kind so the receiver rebuilds the same type. */
export type NumericArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A typed array's constructor (Float64Array, …): what `recv` can be given to get a fresh array of that type. */
export type NumericArrayConstructor<T extends NumericArray = NumericArray> = {
  new (buffer: ArrayBuffer, offset?: number, length?: number): T;
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};
type Ctor = NumericArrayConstructor;

const KINDS: readonly Ctor[] = [
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as unknown as Ctor[];

/** A byte view of any ArrayBufferView, without copying; `what` names the argument in errors. */
export function bytesOf(data: ArrayBufferView, what = 'data'): Uint8Array {
  if (data instanceof Uint8Array) {
    if (data.byteLength === 0) checkAttached(data, what);
    return data;
  }
  if (!ArrayBuffer.isView(data)) {
    throw new MpiError('ERR_BUFFER', `${what} must be a Uint8Array, Buffer, typed array or DataView, got ${shown(data)}`);
  }
  if (data.byteLength === 0) checkAttached(data, what);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A view of a buffer transferred away (postMessage or structuredClone with `transfer`) reads as
 * empty: sent, it would arrive as a zero-length message nobody asked for. Node 20 has no
 * `ArrayBuffer.prototype.detached`; a view of a detached buffer cannot be constructed.
 */
function checkAttached(data: ArrayBufferView, what: string): void {
  const buffer = data.buffer;
  if (typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer) return;
  try {
    new Uint8Array(buffer, 0, 0);
  } catch {
    throw new MpiError(
      'ERR_BUFFER',
      `${what} is a ${data.constructor.name} whose ArrayBuffer was detached (transferred to a worker or by structuredClone): ` +
        'it holds no bytes any more',
    );
  }
}

export function kindOf(array: NumericArray): number {
  type Constructor = abstract new (...args: never[]) => unknown;
  const i = KINDS.findIndex((k) => array instanceof (k as unknown as Constructor) && array.constructor === k);
  if (i < 0) {
    // Buffer is a Uint8Array subclass.
    if (array instanceof Uint8Array) return 0;
    throw new MpiError('ERR_TYPE', `unsupported array type ${array.constructor.name}`);
  }
  return i;
}

/** [kind][bytes…] */
export function encodeTyped(array: NumericArray): Uint8Array[] {
  return [Uint8Array.of(kindOf(array)), bytesOf(array)];
}

/**
 * A collective received a message another collective sends (an erroneous program, which MPI
 * leaves undefined): said as such, not as the decoding error it causes.
 */
export function collectivesMismatch(what: string): MpiError {
  return new MpiError(
    'ERR_TYPE',
    `${what}: the ranks' collective calls do not match (every rank must call the same collectives, in the same order, with ` +
      `the same root)`,
  );
}

/** The constructor a kind byte stands for. */
export function ctorOfKind(kind: number): NumericArrayConstructor {
  const ctor = KINDS[kind];
  if (!ctor) throw collectivesMismatch(`a collective's message names no array type (kind ${kind})`);
  return ctor;
}

/** Rebuilds a typed array from `[kind][bytes…]`, copied into its own aligned buffer. */
export function decodeTyped(message: Uint8Array): NumericArray {
  const ctor = ctorOfKind(message[0]!);
  if ((message.length - 1) % ctor.BYTES_PER_ELEMENT !== 0) {
    throw collectivesMismatch(`a collective's message of ${message.length - 1} bytes is not a whole number of ${ctor.name} elements`);
  }
  const bytes = message.subarray(1);
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return new ctor(buffer, 0, bytes.length / ctor.BYTES_PER_ELEMENT);
}

/** The array's constructor (a Buffer counts as a Uint8Array). */
export function ctorOf<T extends NumericArray>(array: T): NumericArrayConstructor<T> {
  return KINDS[kindOf(array)] as unknown as NumericArrayConstructor<T>;
}

/** `bytes` as an array of `ctor`'s type in a buffer of its own (never a view of a shared pool). */
export function fromBytes<T extends NumericArray>(ctor: NumericArrayConstructor<T>, bytes: Uint8Array): T {
  const size = ctor.BYTES_PER_ELEMENT;
  if (bytes.length % size !== 0) {
    throw new MpiError('ERR_TYPE', `a message of ${bytes.length} bytes is not a whole number of ${ctor.name} elements`);
  }
  const out = new ctor(bytes.length / size);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** The parts one after the other, as one array of `ctor`'s type. */
export function concatAs<T extends NumericArray>(ctor: NumericArrayConstructor<T>, parts: readonly Uint8Array[]): T {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return fromBytes(ctor, bytes);
}

/** A collective's result, copied into the caller's array when one was given (same type and length). */
export function deliver<T extends NumericArray>(result: T, into: T | undefined, what: string): T {
  if (!into || into === result) return result;
  checkInto(into, ctorOf(result), result.length, what);
  (into as Uint8Array).set(result as Uint8Array);
  return into;
}

/** Parts one after the other as one array of `ctor`'s type: copied straight into `into` when given. */
export function deliverParts<T extends NumericArray>(
  ctor: NumericArrayConstructor<T>,
  parts: readonly Uint8Array[],
  into: T | undefined,
  what: string,
): T {
  if (!into) return concatAs(ctor, parts);
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (total % ctor.BYTES_PER_ELEMENT !== 0) {
    throw new MpiError('ERR_TYPE', `${what}: ${total} bytes are not a whole number of ${ctor.name} elements`);
  }
  checkInto(into, ctor, total / ctor.BYTES_PER_ELEMENT, what);
  const bytes = bytesOf(into);
  let at = 0;
  for (const p of parts) {
    // A part received in place is there already.
    if (p.buffer !== bytes.buffer || p.byteOffset !== bytes.byteOffset + at) bytes.set(p, at);
    at += p.length;
  }
  return into;
}

/** `into` is an array of `ctor`'s type and `length` elements, or an ERR_BUFFER naming both. */
export function checkInto(into: NumericArray, ctor: NumericArrayConstructor, length: number, what: string): void {
  if (!isNumericArray(into)) throw new MpiError('ERR_BUFFER', `${what}: into must be a typed array`);
  if (ctorOf(into) !== ctor || into.length !== length) {
    throw new MpiError('ERR_BUFFER', `${what}: the result is ${ctor.name}[${length}], into is ${into.constructor.name}[${into.length}]`);
  }
}

/** Checks `data` is a typed array (not a DataView, not a plain array), naming the call. */
export function checkArray(data: unknown, what: string): asserts data is NumericArray {
  if (!isNumericArray(data)) {
    const got = data === null ? 'null' : typeof data === 'object' ? data.constructor.name : typeof data;
    throw new MpiError('ERR_TYPE', `${what}: data must be a typed array (Float64Array, Int32Array, …), got ${got}`);
  }
  kindOf(data);
}

export function isNumericArray(value: unknown): value is NumericArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** A copy in a buffer of its own, of the same type (a Buffer's `slice` would be a view). */
export function copyOf<T extends NumericArray>(data: T): T {
  return fromBytes(ctorOf(data), bytesOf(data));
}

/** `into` of a receive: a buffer, or one of the typed array constructors (an ERR_TYPE otherwise). */
export function checkRecvInto(into: unknown): void {
  if (into === undefined || ArrayBuffer.isView(into)) return;
  if (typeof into === 'function' && (KINDS as readonly unknown[]).includes(into)) return;
  if (typeof into === 'function' && into.prototype instanceof Uint8Array) return; // Buffer
  throw new MpiError(
    'ERR_TYPE',
    `into must be a buffer to receive into or a typed array constructor (Float64Array, …), got ${
      typeof into === 'function' ? into.name || 'a function' : shown(into)
    }`,
  );
}
