import { ANY_SOURCE, ANY_TAG, shown } from '@switchyard/pml';
import { MpiError } from './errors.js';

/**
 * Where a received message came from (mpi4py's `MPI.Status`): a receive given one fills it, as
 * `comm.recv(status=st)` does, for receives from ANY_SOURCE or with ANY_TAG.
 */
export class Status {
  /** The sender's rank in the communicator; ANY_SOURCE until a receive fills it. */
  source: number = ANY_SOURCE;
  /** The message's tag; ANY_TAG until a receive fills it. */
  tag: number = ANY_TAG;
}

/** Throws ERR_ARG unless `status` is absent or an object a receive can fill. */
export function checkStatus(status: unknown): void {
  if (status === undefined || (typeof status === 'object' && status !== null)) return;
  throw new MpiError('ERR_ARG', `status must be an object to fill (a Status), got ${shown(status)}`);
}
