import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the openib BTL over the one verbs interface', () => {
  it('the BTL itself has no provider-specific branch: it sees only the verbs interface', () => {
    const dir = join(import.meta.dirname, '..', 'src', 'btl');
    // The data path. (select.ts chooses the provider from btl_openib_provider; card.ts knows that a
    // soft address reaches only this host, as a LID reaches only its subnet; params.ts lists them;
    // device-params.ts is the per-device table, Open MPI's mca-btl-openib-device-params.ini.)
    const excluded = ['select.ts', 'component.ts', 'card.ts', 'params.ts', 'device-params.ts'];
    const btlCode = readdirSync(dir).filter((f) => f.endsWith('.ts') && !excluded.includes(f));
    expect(btlCode).toEqual(expect.arrayContaining(['module.ts', 'endpoint.ts']));
    for (const file of btlCode) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/from '\.\.\/(soft|native)\/|from '@switchyard\/verbs\/|SoftVerbsProvider|NativeVerbsProvider/);
      expect(text, file).not.toMatch(/provider\.name\s*===|['"](soft|native)['"]/);
    }
  });
});
