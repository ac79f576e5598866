import {
  describeSource,
  levelNumber,
  McaSelectionError,
  type ComponentRecord,
  type Mca,
  type ParamInfo,
} from '@switchyard/mca';
import { registerPmlParams } from '@switchyard/pml';
import { registerBmlParams } from '@switchyard/core-bml';
import { registerFinalizeParams } from '../../app/finalize-params.js';
import { FRAMEWORKS } from '../../frameworks.js';

/** What `switchyard info` reports, as data: the text and JSON outputs both render this. */
export interface InfoModel {
  readonly files: { system: string; user: string; project?: string; paramFiles: readonly string[] };
  readonly frameworks: FrameworkInfo[];
  readonly problems: Array<{ dir: string; package?: string; reason: string }>;
  readonly errors: string[];
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
  readonly status: 'available' | 'unavailable' | 'skipped' | 'failed' | 'excluded';
  readonly reason?: string;
  /** What the component said about itself when opened (provider, devices...). */
  readonly details: readonly string[];
}

/**
 * Registers every framework's components and opens each selected one (as ompi_info does) so
 * its availability is known, then closes it again.
 */
export async function buildInfoModel(mca: Mca): Promise<InfoModel> {
  registerPmlParams(mca.params);
  registerBmlParams(mca.params);
  registerFinalizeParams(mca.params);
  const errors: string[] = [];
  const frameworks: FrameworkInfo[] = [];
  for (const definition of FRAMEWORKS) {
    const fw = mca.framework(definition);
    await fw.register();
    let selected: ComponentRecord[] = [];
    try {
      selected = await fw.selected();
    } catch (err) {
      if (!(err instanceof McaSelectionError)) throw err;
      errors.push(err.message);
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
  return {
    files: {
      system: mca.files.systemFile,
      user: mca.files.userFile,
      ...(mca.files.projectConfig ? { project: mca.files.projectConfig } : {}),
      paramFiles: mca.files.paramFiles,
    },
    frameworks,
    problems: mca.discover().problems.map((p) => ({ dir: p.dir, ...(p.packageName ? { package: p.packageName } : {}), reason: p.reason })),
    errors,
  };
}

function componentInfo(record: ComponentRecord): ComponentInfo {
  const f = record.found;
  const status =
    record.status === 'skipped' || record.status === 'failed' || record.status === 'unavailable' || record.status === 'excluded'
      ? record.status
      : 'available';
  return {
    name: record.name,
    package: f.packageName,
    version: f.version,
    apiRange: f.manifest.api,
    path: f.dir,
    foundIn: f.foundIn,
    via: f.via,
    status,
    ...(record.reason && status !== 'available' ? { reason: record.reason } : {}),
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
