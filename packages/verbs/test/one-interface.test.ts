import { describe, expect, it } from 'vitest';
import { NativeVerbsProvider } from '../src/native/provider.js';
import { SoftVerbsProvider } from '../src/soft/provider.js';
import { SoftContext } from '../src/soft/context.js';

const methods = (proto: object) =>
  Object.getOwnPropertyNames(proto)
    .filter((n) => n !== 'constructor' && !n.startsWith('#'))
    .sort();

describe('one verbs interface for both providers', () => {
  it('the native and soft providers expose the same verbs interface (soft adds only fault injection and where its data flows)', () => {
    const native = methods(NativeVerbsProvider.prototype);
    const soft = methods(SoftVerbsProvider.prototype);
    expect(native).toEqual(['listDevices', 'open']);
    expect(soft.filter((m) => !native.includes(m))).toEqual(['dataPath', 'resetDevice']);
    expect(methods(SoftContext.prototype)).toEqual(
      expect.arrayContaining(['allocPd', 'close', 'createCompletionQueue', 'createQueuePair', 'queryPort', 'registerMemory']),
    );
  });
});
