import { deserialize, serialize } from 'node:v8';
import { MpiError } from './errors.js';

/**
 * Object messages (mpi4py's lower-case API): any value the structured clone algorithm takes —
 * nested objects and arrays, Maps, Sets, Dates, typed arrays, bigints — travels as
 * `v8.serialize` bytes and arrives as a copy. Functions, symbols and class identity do not.
 */
export function encodeObject(value: unknown): Uint8Array {
  try {
    return serialize(value);
  } catch (err) {
    // A function, a symbol, a class with private state: what mpi4py's pickle would refuse too.
    throw new MpiError('ERR_ARG', `the object cannot be sent: ${(err as Error).message}`);
  }
}

export function decodeObject<T>(bytes: Uint8Array): T {
  try {
    return deserialize(bytes) as T;
  } catch (err) {
    // Bytes from `send`, not `sendObject`: the receive and the send do not agree on what it is.
    throw new MpiError('ERR_TYPE', `a message of ${bytes.length} bytes is not an object sent with sendObject: ${(err as Error).message}`);
  }
}
