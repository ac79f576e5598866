import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mca } from '@switchyard/mca';

/** A btl component that reaches every peer and remembers which ones it was told are local. */
export const PROBE = `
export const seen = [];
export default {
  checkpointable: false,
  init: (ctx) => [{
    component: 'probe', name: 'probe', exclusivity: 1, latency: 1, bandwidth: 1, eagerLimit: 64, maxSendSize: 64, flags: 1,
    businessCard: { rank: ctx.rank },
    async addProcs(procs) {
      seen.push(...procs.map((p) => ({ rank: p.rank, local: p.local })));
      return procs.map((p) => ({ rank: p.rank, module: this }));
    },
    async delProcs() {}, send() { return true; }, async flush() {}, async finalize() {},
  }],
};`;

const roots: string[] = [];

export function removeProbeRoots(): void {
  while (roots.length) rmSync(roots.pop()!, { recursive: true, force: true });
}

/** An MCA that finds component 'probe' (source `source`) in a project of its own. */
export async function probeMca(source = PROBE): Promise<{ mca: Mca; seen: () => Promise<Array<{ rank: number; local: boolean }>> }> {
  const root = mkdtempSync(join(tmpdir(), 'sy-bml-'));
  roots.push(root);
  const pkg = join(root, 'node_modules', 'switchyard-btl-probe');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: 'switchyard-btl-probe',
      version: '1.0.0',
      type: 'module',
      main: 'index.js',
      mca: { framework: 'btl', component: 'probe', api: '^1.0.0' },
    }),
  );
  writeFileSync(join(pkg, 'index.js'), source);
  const mca = await Mca.load({
    cwd: root,
    env: {},
    homeDir: join(root, 'home'),
    sysconfDir: join(root, 'etc'),
    commandLine: [['btl', 'probe']],
    searchFrom: [root],
    log: () => {},
  });
  return { mca, seen: async () => (await import(join(pkg, 'index.js'))).seen };
}
