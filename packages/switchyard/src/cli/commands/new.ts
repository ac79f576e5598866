import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, HELP_OPTION, parseArgs, UsageError } from '@switchyard/cli-kit';
import { checkComponentName, packageNameFor, ScaffoldError, writeBtlPackage } from '../../scaffold/btl-package.js';
import { Mca } from '@switchyard/mca';
import { BTL_FRAMEWORK } from '@switchyard/core-bml';
import { INSTALLATION } from '../../installation.js';

const USAGE = `Usage: switchyard new btl NAME [DIR] [--scope @SCOPE]

Creates a ready-to-publish third-party BTL (transport) package for component NAME in DIR
(default ./switchyard-btl-NAME): the package.json component declaration ("mca": framework btl,
component NAME, API ^1.0.0), a TypeScript skeleton of the component and its module that
type-checks against @switchyard/btl-interface, a README, and test/conformance.test.ts, which runs the
BTL conformance kit. Its tests fail until the transport is written, each failure saying what
to do next; docs/writing-a-btl.md walks through it.

  NAME            the component name users select (btl=NAME,self): lower-case letters, digits, '_'
  DIR             where to create the package; must be new or empty
  --scope @SCOPE  publish under an npm scope: @SCOPE/switchyard-btl-NAME
  -h, --help      show this help

Exit status: 0 created; 1 DIR not empty or not writable; 2 bad arguments (nothing written either way).
`;

const KINDS = ['btl'];

export const newCommand: Command = async (argv, io) => {
  const args = parseArgs(argv, [HELP_OPTION, { name: 'scope', arity: 1 }]);
  if (args.options.get('help')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [kind, name, dirArg, ...extra] = args.positionals;
  if (kind === undefined) throw new UsageError(`missing what to create: one of ${KINDS.join(', ')} (e.g. switchyard new btl NAME)`);
  if (!KINDS.includes(kind)) throw new UsageError(`cannot create '${kind}': only ${KINDS.join(', ')} (e.g. switchyard new btl NAME)`);
  if (name === undefined) throw new UsageError('missing NAME: the component name, e.g. switchyard new btl uds');
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const problem = checkComponentName(name);
  if (problem) throw new UsageError(problem);
  const shipped = await shippedComponent(name, io.cwd);
  if (shipped) {
    throw new UsageError(
      `'${name}' is a component Switchyard ships (${shipped}); a package declaring it would shadow that one: choose another name`,
    );
  }
  const scope = args.options.get('scope') as string | undefined;
  const packageName = scopedName(name, scope);
  try {
    const dir = resolve(io.cwd, dirArg ?? basename(packageName));
    const install = installCommand();
    const files = writeBtlPackage({ name, dir, install, ...(scope ? { scope } : {}) });
    const rel = relative(io.cwd, dir);
    const shown = rel.startsWith('..') ? dir : rel || '.';
    io.stdout.write(
      `Created ${packageName} (btl component '${name}') in ${dir}:\n${files.map((f) => `  ${f}`).join('\n')}\n\n` +
        `Next:\n  cd ${shown}\n  ${install}\n  npm test        # fails until the transport is written; each failure says what ` +
          `to do next\n` +
        `Then implement src/module.ts, guided by docs/writing-a-btl.md.\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof ScaffoldError)) throw err;
    io.stderr.write(`switchyard new: ${err.message}\n`);
    return 1;
  }
};

/** A bad --scope is a usage error (exit 2), as a bad NAME is; the scaffold only knows it as its own error. */
function scopedName(name: string, scope: string | undefined): string {
  try {
    return packageNameFor(name, scope);
  } catch (err) {
    if (err instanceof ScaffoldError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * `npm install`, or, when this CLI runs from a Switchyard checkout (its sibling packages beside
 * it, not installed from the registry), an install of the checkout's btl-interface, btl-base and
 * conformance kit into the new package: they need not be on the registry for the author to start.
 */
function installCommand(): string {
  const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
  const local = ['btl-interface', 'btl-base', 'btl-conformance'].map((p) => join(packages, p));
  if (!local.every((dir) => existsSync(join(dir, 'package.json')))) return 'npm install';
  return `npm install --save-dev ${local.join(' ')}   # from this Switchyard checkout`;
}

/** Where Switchyard's own installation has a btl component of this name, or undefined. */
async function shippedComponent(name: string, cwd: string): Promise<string | undefined> {
  const mca = await Mca.load({ cwd, searchFrom: [cwd], installation: INSTALLATION, warnings: false, log: () => {} });
  const record = mca.framework(BTL_FRAMEWORK).declare().find((r) => r.name === name && r.found.firstParty);
  return record ? `btl ${name}, in ${record.found.packageName}` : undefined;
}
