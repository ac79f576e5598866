import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { runKit } from './collect.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = process.env.KIT_DIR ?? join(FIXTURES, process.env.KIT_FIXTURE ?? 'sound');
it('scratch', async () => {
  const t0 = Date.now();
  const params = process.env.KIT_PARAMS ? JSON.parse(process.env.KIT_PARAMS) : undefined;
  const results = await runKit({ packageDir: dir.startsWith('/') ? dir : join(ROOT, dir), only: (process.env.KIT_ONLY ?? 'wide-job').split(','), waitMs: Number(process.env.KIT_WAIT ?? 10000), ...(params ? { params } : {}) });
  for (const [id, r] of results) console.log(id, r.status, r.note ?? '', r.error?.message ?? '');
  console.log('took', Date.now() - t0, 'ms');
}, 300_000);
