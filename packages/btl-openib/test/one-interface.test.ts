import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NativeVerbsProvider } from '../src/native/provider.js';
import { SoftVerbsProvider } from '../src/soft/provider.js';
import { SoftContext } from '../src/soft/context.js';


const methods = (proto: object) =>
  Object.getOwnPropertyNames(proto)
    .filter((n) => n !== 'constructor' && !n.startsWith('#'))
    .sort();

describe('one verbs interface for both providers', () => {
  it('the native and soft providers expose the same verbs interface (soft adds only fault injection)', () => {
    const native = methods(NativeVerbsProvider.prototype);
    const soft = methods(SoftVerbsProvider.prototype);
    expect(native).toEqual(['listDevices', 'open']);
    expect(soft.filter((m) => !native.includes(m))).toEqual(['resetDevice']);
    expect(methods(SoftContext.prototype)).toEqual(
      expect.arrayContaining(['allocPd', 'close', 'createCompletionQueue', 'createQueuePair', 'queryPort', 'registerMemory']),
    );
  });

  it('the BTL itself has no provider-specific branch: it sees only the verbs interface', () => {
    const dir = join(import.meta.dirname, '..', 'src', 'btl');
    // The data path. (select.ts chooses the provider from btl_openib_provider; card.ts knows that a
    // soft address reaches only this host, as a LID reaches only its subnet; params.ts lists them.)
    const btlCode = readdirSync(dir).filter((f) => f.endsWith('.ts') && !['select.ts', 'component.ts', 'card.ts', 'params.ts'].includes(f));
    expect(btlCode).toEqual(expect.arrayContaining(['module.ts', 'endpoint.ts']));
    for (const file of btlCode) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/from '\.\.\/(soft|native)\//);
      expect(text, file).not.toMatch(/provider\.name\s*===|['"](soft|native)['"]/);
    }
  });
});
