import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { idsInUse, whyIdsTaken } from '../src/criu/process-tree.js';

describe('the ids a restore needs', () => {
  it('are reported in use with their command, a zombie as one, and free ones not at all', async () => {
    // The shell forks `sleep 0`, then becomes `sleep 30`, which never collects it: a zombie for 30 s.
    const parent = spawn('sh', ['-c', 'sleep 0 & exec sleep 30'], { stdio: 'ignore' });
    try {
      const pid = parent.pid!;
      let zombie = 0;
      for (let i = 0; i < 100 && !zombie; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
        zombie = kids.find((k) => idsInUse([k])[0]?.zombie) ?? 0;
      }
      expect(zombie).toBeGreaterThan(0);
      expect(idsInUse([zombie])).toEqual([{ id: zombie, command: 'sleep', zombie: true }]);
      expect(idsInUse([pid])).toEqual([{ id: pid, command: 'sleep', zombie: false }]);
    } finally {
      parent.kill('SIGKILL');
    }
    expect(idsInUse([0x7ffffff0])).toEqual([]);
  });

  it('names an init that does not reap orphans only when every taken id is a zombie', () => {
    expect(whyIdsTaken([{ zombie: true }, { zombie: true }])).toMatch(/pid 1 does not reap orphans .*tini or `docker run --init`/);
    expect(whyIdsTaken([{ zombie: true }, { zombie: false }])).toBe('');
    expect(whyIdsTaken([])).toBe('');
  });
});
