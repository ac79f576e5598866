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

type Ctor = {
  new (buffer: ArrayBuffer, offset?: number, length?: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

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

/** A byte view of any ArrayBufferView, without copying. */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (!ArrayBuffer.isView(data)) throw new TypeError('data must be a Uint8Array, Buffer, typed array or DataView');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function kindOf(array: NumericArray): number {
  type Constructor = abstract new (...args: never[]) => unknown;
  const i = KINDS.findIndex((k) => array instanceof (k as unknown as Constructor) && array.constructor === k);
  if (i < 0) {
    // Buffer is a Uint8Array subclass.
    if (array instanceof Uint8Array) return 0;
    throw new TypeError(`unsupported array type ${array.constructor.name}`);
  }
  return i;
}

/** [kind][bytes…] */
export function encodeTyped(array: NumericArray): Uint8Array[] {
  return [Uint8Array.of(kindOf(array)), bytesOf(array)];
}

/** Rebuilds a typed array from `[kind][bytes…]`, copied into its own aligned buffer. */
export function decodeTyped(message: Uint8Array): NumericArray {
  const ctor = KINDS[message[0]!];
  if (!ctor) throw new Error(`bad typed-array kind ${message[0]}`);
  const bytes = message.subarray(1);
  const buffer = new ArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return new ctor(buffer, 0, bytes.length / ctor.BYTES_PER_ELEMENT);
}

export function isNumericArray(value: unknown): value is NumericArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}
