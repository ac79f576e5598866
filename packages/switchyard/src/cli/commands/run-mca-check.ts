import { Mca, McaIssue } from '@switchyard/mca';
import { registerCriuParams } from '@switchyard/control';
import { FRAMEWORKS } from '../../frameworks.js';
import { registerOwnParams } from './own-params.js';

export interface McaCheckOptions {
  readonly cwd: string;
  /** The script's folder: components are found from it too, as the ranks find them. */
  readonly scriptDir: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The `--mca` values of `switchyard run` that Switchyard's own parameters refuse, found before
 * any rank starts (a usage error, as mpirun's for a bad option); an empty list when all pass.
 * Only first-party components a value names are imported for it: a third party's code runs in
 * the ranks alone, which check its parameters. Anything else that fails here (an unreadable
 * config file) is left for the ranks to report as they always did.
 */
export async function badMcaValues(pairs: ReadonlyArray<readonly [string, string]>, options: McaCheckOptions): Promise<string[]> {
  if (!pairs.length) return [];
  let mca: Mca;
  try {
    mca = await Mca.load({
      cwd: options.cwd,
      env: options.env,
      commandLine: pairs.map(([k, v]) => [k, v] as [string, string]),
      searchFrom: [options.cwd, options.scriptDir],
      warnings: false,
      log: () => {},
    });
    registerOwnParams(mca.params);
    registerCriuParams(mca.params);
    for (const definition of FRAMEWORKS) {
      const fw = mca.framework(definition);
      for (const record of fw.declare()) {
        const prefix = `${fw.name}_${record.name}_`;
        if (record.found.firstParty && pairs.some(([name]) => name.startsWith(prefix))) await fw.importComponent(record.name);
      }
    }
  } catch {
    return [];
  }
  const problems: string[] = [];
  for (const [name, raw] of pairs) {
    try {
      mca.params.checkSetting({ name, raw, source: 'command-line' });
    } catch (err) {
      if (!(err instanceof McaIssue)) throw err;
      problems.push(err.message);
    }
  }
  return problems;
}
