import {
  formatLocation, formatSelection, isSelected, Mca, McaConfigError, McaIssue, McaSelectionError, STRICT_TRUST,
  type DiscoveryResult, type FoundComponent, type Selection, type Setting, type TrustPolicy,
} from '@switchyard/mca';
import { registerCriuParams } from '@switchyard/control';
import { BTL_FRAMEWORK } from '@switchyard/core-bml';
import { FRAMEWORKS } from '../../frameworks.js';
import { registerOwnParams } from './own-params.js';
import { INSTALLATION } from '../../installation.js';

export interface McaCheckOptions {
  readonly cwd: string;
  /** The script's folder: components are found from it too, as the ranks find them. */
  readonly scriptDir: string;
  readonly env: NodeJS.ProcessEnv;
}

/** What `switchyard run` found wrong with the MCA configuration before any rank started. */
export interface McaProblems {
  /** `--mca` values a parameter refuses: a usage error, as mpirun's for a bad option. */
  readonly usage: string[];
  /**
   * Values from the environment and from parameter files that a parameter refuses, and files
   * that cannot be used, each `file:line: message` where there is one: the job would fail in
   * every rank's init, after the application's code before init had run.
   */
  readonly config: string[];
  /** Whose files the ranks may import besides the application's (`mca_base_trust`). */
  readonly trust: TrustPolicy;
  /** Settings that are not wrong but likely a typo (an exclude list naming no component here). */
  readonly warnings?: string[];
}

/**
 * The MCA settings of `switchyard run` that Switchyard's own parameters refuse, found before
 * any rank starts. Only first-party components a setting names are imported for it: a third
 * party's code runs in the ranks alone, which check its parameters.
 */
export async function mcaProblems(pairs: ReadonlyArray<readonly [string, string]>, options: McaCheckOptions): Promise<McaProblems> {
  const usage: string[] = [];
  const config: string[] = [];
  let mca: Mca;
  try {
    mca = await Mca.load({
      installation: INSTALLATION,
      cwd: options.cwd,
      env: options.env,
      commandLine: pairs.map(([k, v]) => [k, v] as [string, string]),
      searchFrom: [options.cwd, options.scriptDir],
      warnings: false,
      log: () => {},
    });
  } catch (err) {
    if (!(err instanceof McaConfigError)) return { usage, config, trust: STRICT_TRUST };
    for (const issue of err.issues) config.push(issue.describe());
    return { usage, config, trust: STRICT_TRUST };
  }
  const names = mca.params.store.names();
  const warnings: string[] = [];
  try {
    registerOwnParams(mca.params);
    registerCriuParams(mca.params);
    for (const definition of FRAMEWORKS) {
      const fw = mca.framework(definition);
      const selection = selectionProblem(mca, fw.name, await missingComponent(fw));
      if (selection?.usage) usage.push(selection.usage);
      if (selection?.config) config.push(selection.config);
      warnings.push(...unknownExcluded(mca, fw));
      for (const record of fw.declare()) {
        const prefix = `${fw.name}_${record.name}_`;
        if (record.found.firstParty && names.some((name) => name.startsWith(prefix))) await fw.importComponent(record.name);
      }
    }
  } catch {
    // A component that cannot load here fails in the ranks too, which say why in their own words.
    return { usage, config, trust: mca.trust, warnings };
  }
  const self = refusedSelf(mca.discover(), mca.framework(BTL_FRAMEWORK).selection());
  if (self) config.push(self);
  for (const [name, raw] of pairs) {
    const problem = refusal(mca, { name, raw, source: 'command-line' });
    if (problem) usage.push(problem.message);
  }
  for (const name of names) {
    const setting = mca.params.store.highest(name);
    if (!setting || setting.source === 'command-line') continue;
    const problem = refusal(mca, setting);
    if (problem) config.push(problem.describe());
  }
  if (!usage.length && !config.length) await conflictingParams(mca, names, usage, config);
  return { usage, config, trust: mca.trust, warnings };
}

/**
 * A selection that keeps btl self (every selection but one that leaves it out) while the ownership
 * check refuses it (an installation another user owns): no rank could reach itself, and the
 * job would fail in every rank after the application's code before init had run.
 */
export function refusedSelf(discovery: Pick<DiscoveryResult, 'found' | 'refused'>, selection: Selection): string | undefined {
  const isSelf = (c: FoundComponent) => c.manifest.framework === 'btl' && c.manifest.component === 'self';
  const self = discovery.refused.find(isSelf);
  if (!self || discovery.found.some(isSelf) || !isSelected(selection, 'self')) return undefined;
  return `btl component 'self' (a rank reaches itself only through it) cannot be used: refused: ${self.reason}`;
}

/**
 * Values each fine alone that a first-party component refuses together (btl_tcp_if_include with
 * btl_tcp_if_exclude): its open says so here, as `info` opens it, instead of in every rank once
 * they started. A usage error when one of them is on the command line.
 */
async function conflictingParams(mca: Mca, names: readonly string[], usage: string[], config: string[]): Promise<void> {
  for (const definition of FRAMEWORKS) {
    const fw = mca.framework(definition);
    for (const record of fw.records()) {
      const set = names.filter((n) => n.startsWith(`${fw.name}_${record.name}_`));
      if (!record.found.firstParty || !set.length || !isSelected(fw.selection(), record.name)) continue;
      const problem = await openProblem(fw, record.name);
      if (!problem) continue;
      const settings = set.map((n) => mca.params.store.highest(n)!);
      const where = (s: Setting) => (s.source === 'command-line' ? '--mca' : s.file ? formatLocation(s) : sourceName(s.name, s));
      const from = settings.map((s) => `${s.name} from ${where(s)}`);
      const line = `${fw.name} component '${record.name}' cannot be used with these values (${from.join(', ')}): ${problem}`;
      (settings.some((s) => s.source === 'command-line') ? usage : config).push(line);
    }
  }
}

/** Why opening a component fails (not declines, as a transport without its device does), or undefined. */
async function openProblem(fw: Framework, name: string): Promise<string | undefined> {
  try {
    if (await fw.open(name)) {
      await fw.unload(name);
      return undefined;
    }
  } catch {
    return undefined;
  }
  const record = fw.record(name);
  return record?.status === 'failed' ? (record.reason ?? '').replace(/^open failed: /, '') : undefined;
}

type Framework = ReturnType<Mca['framework']>;

/**
 * The selection error every rank's init would throw (a component the include list names that is
 * not installed, or cannot be used), found from the same discovery without importing anything.
 */
async function missingComponent(fw: Framework): Promise<McaSelectionError | undefined> {
  try {
    await fw.selected({ import: false });
    return undefined;
  } catch (err) {
    if (err instanceof McaSelectionError) return err;
    throw err;
  }
}

/** A selection error as a usage error (`--mca`) or a configuration error at the setting's file and line. */
function selectionProblem(mca: Mca, name: string, error: McaSelectionError | undefined): { usage?: string; config?: string } | undefined {
  if (!error) return undefined;
  const setting = mca.params.store.highest(name);
  if (!setting || setting.source === 'command-line') return { usage: `--mca ${name}: ${error.message}` };
  if (setting.file) return { config: new McaIssue(error.message, setting, setting.source).describe() };
  return { config: `${name} from ${sourceName(name, setting)}: ${error.message}` };
}

/** A selection error with where its setting came from (`--mca btl`, or the file and line), for `info`. */
export function locatedSelectionError(mca: Mca, name: string, error: McaSelectionError): string {
  const problem = selectionProblem(mca, name, error)!;
  return problem.usage ?? problem.config!;
}

function sourceName(name: string, setting: Setting): string {
  return setting.source === 'environment' ? `environment (SWITCHYARD_MCA_${name})` : setting.source.replace('-', ' ');
}

/** `btl=^bogus` excludes nothing: likely a misspelt name, which Open MPI ignores silently. */
export function unknownExcluded(mca: Mca, fw: Framework): string[] {
  const setting = mca.params.store.highest(fw.name);
  const selection = fw.selection();
  if (!setting || selection.mode !== 'exclude') return [];
  const known = fw.records().map((r) => r.name);
  const name = fw.name;
  const where = setting.source === 'command-line' ? `--mca ${name}` : setting.file ? formatLocation(setting) : sourceName(name, setting);
  return selection.names
    .filter((n) => !known.includes(n))
    .map((n) => `${where}: '${n}' in ${name}=${formatSelection(selection)} is not a ${name} component here, so it excludes nothing`);
}

function refusal(mca: Mca, setting: Setting): McaIssue | undefined {
  try {
    mca.params.checkSetting(setting);
    return undefined;
  } catch (err) {
    if (!(err instanceof McaIssue)) throw err;
    return err;
  }
}
