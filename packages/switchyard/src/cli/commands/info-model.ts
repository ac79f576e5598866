import {
  describeSource,
  isSelected,
  levelNumber,
  McaSelectionError,
  type ComponentRecord,
  type Mca,
  type ParamInfo,
} from '@switchyard/mca';
import { FRAMEWORKS } from '../../frameworks.js';
import { UsageError } from '@switchyard/cli-kit';
import { registerOwnParams } from './own-params.js';
import { locatedSelectionError, unknownExcluded } from './run-mca-check.js';

/** What `switchyard info` reports, as data: the text and JSON outputs both render this. */
export interface InfoModel {
  readonly files: { system: string; user: string; project?: string; paramFiles: readonly string[] };
  readonly frameworks: FrameworkInfo[];
  readonly problems: Array<{ dir: string; package?: string; reason: string }>;
  /** Later finds of a component already found: not used. */
  readonly shadowed: Array<{ framework: string; name: string; package: string; path: string; via: string; usedInstead: string }>;
  /** The project roots components were looked for in, and every folder the search read. */
  readonly projectRoots: readonly string[];
  readonly componentSearch: ReadonlyArray<{ folder: string; via: string }>;
  readonly errors: string[];
}

/** Which third-party components `info` may import to show their parameters: those the user asked about. */
export interface InfoScope {
  /** A framework name, or 'all'. */
  readonly framework?: string;
  /** A component name, 'all', 'base' or undefined (every one). */
  readonly component?: string;
}

export interface FrameworkInfo {
  readonly name: string;
  readonly apiVersion: string;
  readonly description: string;
  readonly selection: string;
  readonly components: ComponentInfo[];
}

export interface ComponentInfo {
  readonly name: string;
  readonly package: string;
  readonly version: string;
  readonly apiRange: string;
  readonly path: string;
  readonly foundIn: string;
  readonly via: string;
  readonly status: 'available' | 'declared' | 'unavailable' | 'skipped' | 'failed' | 'excluded';
  readonly reason?: string;
  /** What the component said about itself when opened (provider, devices...). */
  readonly details: readonly string[];
}

/**
 * Lists every framework's components from their declarations. Code runs only for components the
 * switchyard installation brings (first-party, opened as ompi_info does to tell whether they are
 * available here, then closed) and for the ones `scope` asks the parameters of; any other
 * component stays `declared`: its package.json was read, its code never ran.
 */
export async function buildInfoModel(mca: Mca, scope: InfoScope = {}): Promise<InfoModel> {
  registerOwnParams(mca.params);
  const errors: string[] = [];
  const frameworks: FrameworkInfo[] = [];
  for (const definition of FRAMEWORKS) {
    const fw = mca.framework(definition);
    const selection = fw.selection();
    const declared = fw.declare();
    // As run warns: `btl=^bogus` excludes nothing, and info shows the value run would have.
    for (const warning of unknownExcluded(mca, fw)) mca.hooks.warning.call(warning);
    for (const record of declared) {
      if (record.found.firstParty ? isSelected(selection, record.name) : asked(scope, fw.name, record.name)) {
        await fw.importComponent(record.name);
      }
    }
    let selected: ComponentRecord[] = [];
    try {
      // The components imported above only: one nobody asked about stays declared.
      selected = await fw.selected({ import: false });
    } catch (err) {
      if (!(err instanceof McaSelectionError)) throw err;
      // From --mca, a usage error, as `switchyard run` answers it; from a file, listed with its line.
      if (mca.params.store.highest(fw.name)?.source === 'command-line') throw new UsageError(locatedSelectionError(mca, fw.name, err));
      errors.push(locatedSelectionError(mca, fw.name, err));
    }
    for (const record of selected) {
      if (await fw.open(record.name)) await fw.unload(record.name);
    }
    frameworks.push({
      name: fw.name,
      apiVersion: fw.apiVersion,
      description: definition.description,
      selection: fw.selection().mode === 'all' ? '(all)' : mca.params.info(fw.name).text,
      components: fw.records().map(componentInfo).sort((a, b) => a.name.localeCompare(b.name)),
    });
  }
  const discovery = mca.discover();
  return {
    files: {
      system: mca.files.systemFile,
      user: mca.files.userFile,
      ...(mca.files.projectConfig ? { project: mca.files.projectConfig } : {}),
      paramFiles: mca.files.paramFiles,
    },
    frameworks,
    problems: [
      ...discovery.problems.map((p) => ({ dir: p.dir, ...(p.packageName ? { package: p.packageName } : {}), reason: p.reason })),
      // A package for a framework that takes no components would otherwise be listed nowhere.
      ...discovery.found
        .filter((c) => !FRAMEWORKS.some((f) => f.name === c.manifest.framework))
        .map((c) => ({
          dir: c.dir,
          package: c.packageName,
          reason:
            `declares framework '${c.manifest.framework}', which takes no components ` +
            `(frameworks with components: ${FRAMEWORKS.map((f) => f.name).join(', ')})`,
        })),
    ],
    shadowed: discovery.shadowed.map((c) => ({
      framework: c.manifest.framework,
      name: c.manifest.component,
      package: c.packageName,
      path: c.dir,
      via: c.via,
      usedInstead: c.usedInstead,
    })),
    projectRoots: discovery.projectRoots,
    componentSearch: discovery.searched.map((s) => ({ folder: s.folder, via: s.via })),
    errors,
  };
}

function asked(scope: InfoScope, framework: string, component: string): boolean {
  if (!scope.framework) return false;
  if (scope.framework === 'all') return true;
  return scope.framework === framework && (!scope.component || scope.component === 'all' || scope.component === component);
}

function componentInfo(record: ComponentRecord): ComponentInfo {
  const f = record.found;
  const listed = ['declared', 'skipped', 'failed', 'unavailable', 'excluded'] as const;
  const status = (listed as readonly string[]).includes(record.status) ? (record.status as (typeof listed)[number]) : 'available';
  const reason =
    status === 'declared'
      ? `read from its package.json, not imported (info runs a component's code only when asked: ` +
        `--param ${record.framework} ${record.name})`
      : record.reason;
  return {
    name: record.name,
    package: f.packageName,
    version: f.version,
    apiRange: f.manifest.api,
    path: f.dir,
    foundIn: f.foundIn,
    via: f.via,
    status,
    ...(reason && status !== 'available' ? { reason } : {}),
    details: status === 'available' ? record.details : [],
  };
}

/** Parameters for `--param FRAMEWORK COMPONENT|all` (or `--param all`) up to a level. */
export function selectParams(mca: Mca, framework: string, component: string | undefined, level: number): ParamInfo[] {
  return mca.params.list((spec) => {
    if (levelNumber(spec) > level) return false;
    if (framework === 'all') return true;
    const owner = spec.owner?.framework ?? 'mca';
    if (owner !== framework) return false;
    if (!component || component === 'all') return true;
    return component === 'base' ? spec.owner?.component === undefined : spec.owner?.component === component;
  });
}

export function paramJson(p: ParamInfo) {
  return {
    name: p.spec.name,
    value: p.value,
    text: p.text,
    type: p.spec.type,
    ...(p.spec.values ? { values: p.spec.values } : {}),
    default: p.spec.default,
    level: levelNumber(p.spec),
    levelName: p.spec.level ?? 'user',
    source: p.source,
    ...(p.file ? { file: p.file } : {}),
    ...(p.line !== undefined ? { line: p.line } : {}),
    sourceText: describeSource(p),
    runtimeSettable: p.spec.runtimeSettable ?? false,
    framework: p.spec.owner?.framework ?? 'mca',
    ...(p.spec.owner?.component ? { component: p.spec.owner.component } : {}),
    help: p.spec.help,
  };
}

export const LEVEL_LABEL = (n: number) =>
  `${n} ${['user', 'tuner', 'dev'][Math.floor((n - 1) / 3)]}/${['basic', 'detail', 'all'][(n - 1) % 3]}`;
