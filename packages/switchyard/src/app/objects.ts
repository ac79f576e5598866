import { deserialize, serialize } from 'node:v8';

/**
 * Object messages (mpi4py's lower-case API): any value the structured clone algorithm takes —
 * nested objects and arrays, Maps, Sets, Dates, typed arrays, bigints — travels as
 * `v8.serialize` bytes and arrives as a copy. Functions, symbols and class identity do not.
 */
export function encodeObject(value: unknown): Uint8Array {
  return serialize(value);
}

export function decodeObject<T>(bytes: Uint8Array): T {
  return deserialize(bytes) as T;
}
