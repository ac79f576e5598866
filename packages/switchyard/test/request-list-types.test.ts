import { describe, expect, expectTypeOf, it } from 'vitest';
import { PeerLostError, type Comm, type Message, type Request, type RequestEntry } from '../src/index.js';

// The declared types of the request-list calls, checked by the type check of the tests (npm test
// runs it): a list that may hold MPI_REQUEST_NULL (null) gives results that may be undefined.
describe('the request-list calls of a communicator, as TypeScript sees them', () => {
  it('types results as possibly undefined exactly when the list may hold null entries', () => {
    type WithNulls = RequestEntry<Message>[];
    type Requests = Request<Message>[];
    const anyOfRequests = (c: Comm, r: Requests) => c.waitAny(r);
    expectTypeOf(anyOfRequests).returns.resolves.toEqualTypeOf<{ index: number; value: Message }>();
    const anyOfNulls = (c: Comm, r: WithNulls) => c.waitAny(r);
    expectTypeOf(anyOfNulls).returns.resolves.toEqualTypeOf<{ index: number; value: Message | undefined }>();
    const allOfNulls = (c: Comm, r: WithNulls) => c.waitAll(r);
    expectTypeOf(allOfNulls).returns.resolves.toEqualTypeOf<(Message | undefined)[]>();
    const allOfRequests = (c: Comm, r: Requests) => c.waitAll(r);
    expectTypeOf(allOfRequests).returns.resolves.toEqualTypeOf<Message[]>();
    expectTypeOf<RequestEntry<Message>>().toEqualTypeOf<Request<Message> | null | undefined>();
  });

  it('takes a list of requests of different kinds (a receive and a send), as MPI_Waitall does', () => {
    const mixed = (c: Comm, r: Request<Message<Float64Array>>, s: Request<void>) =>
      [c.waitAll([r, s]), c.waitAny([r, s]), c.waitSome([r, s]), c.testAll([r, s]), c.testAny([r, s]), c.testSome([r, null])] as const;
    expectTypeOf(mixed).returns.toEqualTypeOf<
      readonly [Promise<unknown[]>, Promise<{ index: number; value: unknown }>, Promise<number[]>, boolean, number, number[]]
    >();
  });

  it('names a request of any kind as Request, with no type argument, as an application declares one', () => {
    const pending = (c: Comm): Request[] => [c.irecv(0, 1), c.isend(Uint8Array.of(1), 1, 1)];
    expectTypeOf(pending).returns.toEqualTypeOf<Request<unknown>[]>();
  });

  it('exports the error of a peer no transport reaches, for instanceof', () => {
    const lost = new PeerLostError(3, [{ btl: 'tcp', error: 'connection reset' }]);
    expect(lost).toBeInstanceOf(Error);
    expect(lost).toMatchObject({ code: 'ERR_SWITCHYARD_PEER_UNREACHABLE', peer: 3 });
  });
});
