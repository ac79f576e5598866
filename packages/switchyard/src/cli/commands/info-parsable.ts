import { describeSource, levelNumber, type ParamInfo } from '@switchyard/mca';
import { version } from '../../version.js';
import type { InfoModel } from './info-model.js';

/**
 * ompi_info's --parsable output: one `key:...:value` line per fact, colon-separated, so
 * `grep`/`cut -d:` scripts written for ompi_info work (`mca:btl:tcp:param:btl_tcp_eager_limit:value:65536`).
 * Newlines in values become spaces: a fact never spans lines.
 */
export function renderParsable(model: InfoModel | undefined, params: readonly ParamInfo[] | undefined): string {
  const lines: string[] = [];
  if (model) lines.push(...headerLines(model));
  for (const p of params ?? []) lines.push(...paramLines(p));
  return lines.map((l) => `${l.replace(/\r?\n/g, ' ')}\n`).join('');
}

function headerLines(model: InfoModel): string[] {
  const lines = [
    `package:@switchyard/mpi ${version}`,
    `switchyard:version:full:${version}`,
    `node:version:full:${process.version}`,
    `path:system_param_file:${model.files.system}`,
    `path:user_param_file:${model.files.user}`,
    ...(model.files.project ? [`path:project_config:${model.files.project}`] : []),
    ...model.files.paramFiles.map((f) => `path:param_file:${f}`),
    ...model.projectRoots.map((r) => `path:project_root:${r}`),
    ...model.componentSearch.map((s) => `path:component_search:${s.via}:${s.folder}`),
  ];
  for (const fw of model.frameworks) {
    lines.push(`mca:${fw.name}:base:version:api:${fw.apiVersion}`, `mca:${fw.name}:base:selection:${fw.selection}`);
    for (const c of fw.components) {
      const at = `mca:${fw.name}:${c.name}`;
      lines.push(
        `${at}:version:component:${c.version}`,
        `${at}:version:api:${c.apiRange}`,
        `${at}:package:${c.package}`,
        `${at}:path:${c.path}`,
        `${at}:via:${c.via}`,
      );
      lines.push(
        `${at}:status:${c.status}`,
        ...(c.reason ? [`${at}:reason:${c.reason}`] : []),
        ...c.details.map((d) => `${at}:detail:${d}`),
      );
    }
  }
  for (const c of model.shadowed) lines.push(`shadowed:${c.framework}:${c.name}:${c.path}`);
  for (const p of model.problems) lines.push(`problem:${p.package ?? p.dir}:${p.reason}`);
  return lines;
}

function paramLines(p: ParamInfo): string[] {
  const owner = p.spec.owner;
  const at = `mca:${owner?.framework ?? 'mca'}:${owner?.component ?? 'base'}:param:${p.spec.name}:`;
  // As ompi_info: a value that holds the separator is quoted, so the line still splits.
  const value = p.text.includes(':') ? `"${p.text}"` : p.text;
  return [
    `${at}value:${value}`,
    `${at}source:${describeSource(p)}`,
    `${at}status:${p.spec.runtimeSettable ? 'writeable' : 'read-only'}`,
    `${at}level:${levelNumber(p.spec)}`,
    `${at}help:${p.spec.help}`,
    ...(p.spec.values ?? []).map((v, i) => `${at}enumerator:value:${i}:${v}`),
    `${at}deprecated:no`,
    `${at}type:${p.spec.type}`,
  ];
}
