import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BtlModule } from '@switchyard/btl-interface';
import { SCRATCH_ENV as SCRATCH } from '../protocol.js';
import { bounded, callLimitMs } from './pending.js';

/**
 * Loads the component again with the kit's scratch folder moved: a module that derives its
 * address from it (the companion, the fixtures) publishes a new one, as one re-listening on a new
 * port does, so a peer that kept the old card sends to a dead address. TMPDIR stays: it can name
 * a fabric every rank shares (the soft verbs device lives under it).
 */
export async function loadElsewhere(
  call: string,
  load: () => Promise<readonly BtlModule[]>,
  waitMs: number,
): Promise<readonly BtlModule[]> {
  const saved = process.env[SCRATCH];
  process.env[SCRATCH] = mkdtempSync(join(saved ?? tmpdir(), 'kit-reload-'));
  try {
    return await bounded(call, load(), callLimitMs(waitMs));
  } finally {
    if (saved === undefined) delete process.env[SCRATCH];
    else process.env[SCRATCH] = saved;
  }
}
