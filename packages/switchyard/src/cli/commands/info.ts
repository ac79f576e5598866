import { existsSync } from 'node:fs';
import { describeSource, levelNumber, Mca, McaConfigError, type ParamInfo } from '@switchyard/mca';
import { version } from '../../version.js';
import {
  type Command,
  type CommandIO,
  HELP_OPTION,
  JSON_OPTION,
  MCA_OPTION,
  mcaPairs,
  type OptionSpec,
  parseArgs,
  USAGE_EXIT_CODE,
  UsageError,
} from '@switchyard/cli-kit';
import { buildInfoModel, LEVEL_LABEL, paramJson, selectParams, type InfoModel } from './info-model.js';
import { renderParsable } from './info-parsable.js';
import { probeCriu, registerCriuParams, type CriuProbe } from '@switchyard/control';
import { INSTALLATION } from '../../installation.js';

const USAGE = `Usage: switchyard info [--param FRAMEWORK|all COMPONENT|all] [--level N] [--all] [--parsable | --json] [--mca KEY VALUE]...

Lists MCA frameworks and their components (package, version, API range, where found and why, status),
and with --param the parameters (value, type, level, data source with file and line, help).
As ompi_info, options also take one dash (-param btl tcp, -level 9, -a).
Components are looked for in the project (see docs/security.md) and read from their package.json;
a third-party component's code runs only when --param (or --all) asks for its parameters.

  --param FRAMEWORK COMPONENT  parameters of one component ('base' for the framework's own, 'all' for every one)
  --param all all              parameters of every framework (also: --param all)
  --level N                    only parameters of level N or lower (1-9: user 1-3, tuner 4-6,
                               dev 7-9; default 1, as ompi_info)
  -a, --all                    components and every parameter; the level becomes 9 unless --level says
  --parsable                   ompi_info's colon-separated lines (mca:btl:tcp:param:NAME:value:V ...)
  --json                       machine-readable output, as JSON
  --mca KEY VALUE              set a parameter, as \`switchyard run\` would
  --criu PATH                  the CRIU binary to report on (default: crs_criu_path, then criu on PATH or in sbin)

Exit codes: 0 listed; 1 the configuration is bad or a requested component is missing;
${USAGE_EXIT_CODE} usage error (unknown option, bad --level, unknown framework or component, a bad --mca value).
`;

const INFO_OPTIONS: readonly OptionSpec[] = [
  HELP_OPTION,
  JSON_OPTION,
  MCA_OPTION,
  { name: 'param', arity: 1 },
  { name: 'level', arity: 1 },
  { name: 'all', short: 'a', arity: 0 },
  { name: 'parsable', arity: 0 },
  // ompi_info's other spelling.
  { name: 'parseable', arity: 0 },
  { name: 'criu', arity: 1 },
];

/** ompi_info shows level 1 (user/basic) unless asked; --all raises it to 9. */
const DEFAULT_LEVEL = 1;
const ALL_LEVEL = 9;

export const info: Command = async (argv, io) => {
  const args = parseArgs(argv, INFO_OPTIONS);
  if (args.options.get('help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const all = args.options.get('all') === true;
  const levelText = args.options.get('level') as string | undefined;
  const level = levelText === undefined ? (all ? ALL_LEVEL : DEFAULT_LEVEL) : /^\d$/.test(levelText.trim()) ? Number(levelText) : NaN;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new UsageError(`--level takes a number from 1 to 9, got '${levelText}'`);
  const parsable = args.options.get('parsable') === true || args.options.get('parseable') === true;
  if (parsable && args.options.get('json')) throw new UsageError('--parsable and --json are two output formats: choose one');
  let paramFramework = args.options.get('param') as string | undefined;
  let paramComponent: string | undefined = args.positionals[0];
  if (args.positionals.length > (paramFramework ? 1 : 0)) {
    throw new UsageError(`unexpected argument '${args.positionals.at(-1)}'`);
  }
  if (paramFramework === 'all' && paramComponent !== undefined && paramComponent !== 'all') {
    throw new UsageError(`--param all takes 'all' as its component (every framework's parameters), got '${paramComponent}'`);
  }
  if (all) {
    paramFramework = 'all';
    paramComponent = undefined;
  }

  const warnings: string[] = [];
  let mca: Mca;
  try {
    mca = await Mca.load({
      installation: INSTALLATION,
      cwd: io.cwd,
      env: io.env,
      commandLine: mcaPairs(args),
      searchFrom: [io.cwd],
      log: (l) => io.stderr.write(`${l}\n`),
      // Collected below and printed once (or given in --json).
      warnings: false,
    });
  } catch (err) {
    return configError(err, io, args.options.get('json') === true);
  }
  mca.hooks.warning.tap('info', (w) => void warnings.push(w));
  const model = await buildInfoModel(mca, { framework: paramFramework, component: paramComponent });
  const criuParam = registerCriuParams(mca.params).path.value;
  const criu = probeCriu((args.options.get('criu') as string | undefined) || criuParam || undefined, io.env);
  try {
    mca.checkParams();
  } catch (err) {
    return configError(err, io, args.options.get('json') === true);
  }
  const owners = [...new Set(mca.params.list().map((p) => p.spec.owner?.framework ?? 'mca'))].sort();
  if (paramFramework && paramFramework !== 'all' && !owners.includes(paramFramework)) {
    throw new UsageError(`no framework '${paramFramework}'; parameters exist for: ${owners.join(', ')}`);
  }
  if (paramComponent && paramComponent !== 'all' && paramComponent !== 'base') {
    const fw = model.frameworks.find((f) => f.name === paramFramework);
    if (!fw && paramFramework !== 'all') {
      throw new UsageError(`${paramFramework} takes no components: its parameters are the framework's own (--param ${paramFramework} all)`);
    }
    if (fw && !fw.components.some((c) => c.name === paramComponent)) {
      throw new UsageError(
        `no ${paramFramework} component '${paramComponent}'; components: ${fw.components.map((c) => c.name).join(', ') || '(none)'}`,
      );
    }
  }
  const params = paramFramework ? selectParams(mca, paramFramework, paramComponent, level) : [];
  const hidden = paramFramework ? selectParams(mca, paramFramework, paramComponent, ALL_LEVEL).length - params.length : 0;

  if (args.options.get('json')) {
    const shown = paramFramework ? { params: params.map(paramJson) } : {};
    const report = { switchyard: version, node: process.version, ...model, criu, warnings, ...shown };
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else if (parsable) {
    for (const w of warnings) io.stderr.write(`switchyard: warning: ${w}\n`);
    // As ompi_info --parsable --param: only the parameters' lines, unless --all asked for everything.
    io.stdout.write(renderParsable(paramFramework && !all ? undefined : model, paramFramework ? params : undefined));
  } else {
    for (const w of warnings) io.stderr.write(`switchyard: warning: ${w}\n`);
    io.stdout.write(renderText(model, criu, paramFramework ? params : undefined, hidden > 0 ? { hidden, level } : undefined));
  }
  for (const e of model.errors) io.stderr.write(`switchyard info: error: ${e}\n`);
  return model.errors.length ? 1 : 0;
};

/** `/usr/local/sbin/criu 4.2.1, criu check passed`, or why checkpoint save and restore cannot work. */
function describeCriu(criu: CriuProbe): string {
  if (!criu.problem) return `${criu.path} ${criu.version}, criu check passed`;
  const found = criu.path ? `${criu.path}${criu.version ? ` ${criu.version}` : ''}: ` : '';
  return `${found}unusable: ${criu.problem.reason}`;
}

/** A configuration that cannot be read: said on stderr, and with --json as a report a tool can parse too. */
function configError(err: unknown, io: CommandIO, json: boolean): number {
  if (!(err instanceof McaConfigError)) throw err;
  // Only bad --mca values: a usage error (2), as 'switchyard run' answers it; a bad file or environment is 1.
  const usage = err.issues.every((i) => i.source === 'command-line');
  io.stderr.write(`switchyard info: ${err.message}\n${usage ? "Run 'switchyard info --help' for usage.\n" : ''}`);
  if (json) {
    // `errors` as in a full report: each `file:line: message` where the setting has a place.
    const errors = err.issues.map((i) => i.describe());
    io.stdout.write(`${JSON.stringify({ switchyard: version, node: process.version, errors }, null, 2)}\n`);
  }
  return usage ? 2 : 1;
}

/** How a folder came to be searched, as `info` says it. */
const SEARCH_VIA: Record<string, string> = {
  'component-path': 'mca_component_path',
  node_modules: "the project's node_modules",
  dependency: "a dependency the project's package.json declares",
  installation: "switchyard's own installation",
  application: 'the project itself',
};

const LABEL = 24;
const row = (label: string, value: string) => `${label.padStart(LABEL)}: ${value}\n`;
const cont = (value: string) => `${' '.repeat(LABEL + 2)}${value}\n`;

function renderText(model: InfoModel, criu: CriuProbe, params?: ParamInfo[], hidden?: { hidden: number; level: number }): string {
  let out = '';
  out += row('Package', `@switchyard/mpi ${version}`);
  out += row('Node', `${process.version} (${process.platform} ${process.arch})`);
  const file = (path: string) => `${path}${existsSync(path) ? '' : ' (not present)'}`;
  out += row('System parameter file', file(model.files.system));
  out += row('User parameter file', file(model.files.user));
  out += row('Project config', model.files.project ?? '(none found)');
  out += row('Parameter files', model.files.paramFiles.length ? model.files.paramFiles.join(', ') : '(none)');
  out += row('Project root', model.projectRoots.join(', '));
  const searched = model.componentSearch.map((s) => `${s.folder} (${SEARCH_VIA[s.via] ?? s.via})`);
  out += row('Component search', searched[0] ?? '(nothing)');
  for (const line of searched.slice(1)) out += cont(line);
  out += row('CRIU (checkpoint save)', describeCriu(criu));
  for (const fw of model.frameworks) {
    out += '\n';
    out += row(`MCA ${fw.name}`, `framework, API v${fw.apiVersion}, selection ${fw.name}=${fw.selection}`);
    out += cont(fw.description);
    if (!fw.components.length) out += cont('(no components found)');
    const width = Math.max(...fw.components.map((c) => c.name.length));
    for (const c of fw.components) {
      const status = c.status === 'available' ? 'available' : `${c.status}: ${c.reason}`;
      out += row(`MCA ${fw.name}`, `${c.name.padEnd(width)}  (${c.package} v${c.version}, API ${c.apiRange}) ${status}`);
      out += cont(`${' '.repeat(width)}  found in ${c.path} (${SEARCH_VIA[c.via] ?? c.via})`);
      for (const d of c.details) out += cont(`${' '.repeat(width)}  ${d}`);
    }
  }
  for (const c of model.shadowed) {
    const where = `${c.path} (${SEARCH_VIA[c.via] ?? c.via})`;
    out += '\n' + row('Shadowed', `${c.framework} ${c.name} of ${c.package} in ${where}: the one in ${c.usedInstead} is used`);
  }
  for (const p of model.problems) {
    // The folder too: a package name alone does not say which search path entry holds it.
    out += '\n' + row('Not a component', `${p.package ? `${p.package} in ${p.dir}` : p.dir}: ${p.reason}`);
  }
  if (params) {
    out += '\n';
    for (const p of params) {
      const owner = p.spec.owner
        ? `${p.spec.owner.framework}${p.spec.owner.component ? ` ${p.spec.owner.component}` : ' base'}`
        : 'mca base';
      const values = p.spec.values ? `, valid values: ${p.spec.values.join(', ')}` : '';
      const settable = p.spec.runtimeSettable ? ', settable at run time' : '';
      const level = LEVEL_LABEL(levelNumber(p.spec));
      const facts =
        `current value: "${p.text}", data source: ${describeSource(p)}, level: ${level}, type: ${p.spec.type}${values}${settable}`;
      out += row(`MCA ${owner}`, `parameter "${p.spec.name}" (${facts})`);
      out += cont(p.spec.help);
    }
    if (!params.length) out += cont('(no parameters at this level)');
    if (hidden)
      out += `\n${cont(`${hidden.hidden} more parameter${hidden.hidden === 1 ? '' : 's'} above level ${hidden.level}: --level 9 (or ` +
        `--all) shows them`)}`;
  }
  return out;
}
