import { rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Loader } from 'cosmiconfig';
import { McaIssue } from './errors.js';
import { offsetToPosition } from './parse-errors.js';
import { findProjectRoot } from './project-root.js';
import { esmExportOf, installingProject, resolveTrustedPackage, type TrustedPackage } from './trusted-package.js';
import { type TrustPolicy, UntrustedFileIssue } from './trust.js';

/** The few parts of TypeScript's compiler API (5 and 6; 7 has none) this uses. */
interface TypeScriptApi {
  transpileModule(
    input: string,
    options: { fileName: string; reportDiagnostics: boolean; compilerOptions: Record<string, unknown> },
  ): { outputText: string; diagnostics?: { start?: number; messageText: string | { messageText: string } }[] };
  ModuleKind: { ES2022: unknown };
  ScriptTarget: { ES2022: unknown };
}

/** tsx's API: imports a TypeScript module, its relative imports included. */
interface TsxApi {
  tsImport(specifier: string, parentURL: string): Promise<{ default?: unknown }>;
}

const NO_COMPILER =
  "cannot load config: a TypeScript config needs 'typescript' 5 or 6 (7 has no compiler API: " +
  "'npm install --save-dev typescript@6') or 'tsx' ('npm install --save-dev tsx') in the project, or write it as .mjs or .json";

/**
 * Loads a TypeScript project config with a compiler installed in the project, or in the one that
 * installed Switchyard: never one from a folder above them (cosmiconfig's own loader imports
 * whichever `typescript` Node finds first, and reads the tsconfig.json of folders above the
 * project). `typescript` 5 or 6 first, else tsx (which the ranks run TypeScript scripts with).
 */
export function typeScriptConfigLoader(trust: TrustPolicy): Loader {
  return async (file, content) => {
    const from = [file, fileURLToPath(import.meta.url)];
    const roots = [findProjectRoot(dirname(file), trust), installingProject()].filter((d): d is string => d !== undefined);
    const refusals: string[] = [];
    const take = async <T>(found: TrustedPackage | undefined, usable: (api: T) => boolean): Promise<T | undefined> => {
      if (!found) return undefined;
      if ('refused' in found) return void refusals.push(found.refused);
      const loaded = (await import(pathToFileURL(found.file).href)) as { default?: T } & T;
      const api = (usable(loaded) ? loaded : loaded.default) as T | undefined;
      return api && usable(api) ? api : undefined;
    };
    for (const one of from) {
      const ts = await take<TypeScriptApi>(
        resolveTrustedPackage('typescript', [one], roots, trust),
        (api) => typeof api.transpileModule === 'function',
      );
      if (ts) return withTypeScript(ts, file, content);
    }
    for (const one of from) {
      const found = resolveTrustedPackage('tsx', [one], roots, trust);
      // Its ES module API: the CommonJS one, which require.resolve gives, fails to import TypeScript here.
      const esm = found && 'dir' in found ? esmExportOf(found.dir, 'esm/api') : undefined;
      const api = found && 'dir' in found && esm ? { ...found, file: esm } : found;
      const tsx = await take<TsxApi>(api, (a) => typeof a.tsImport === 'function');
      if (tsx) return (await tsx.tsImport(pathToFileURL(file).href, import.meta.url)).default;
    }
    if (refusals.length) {
      throw new UntrustedFileIssue(`refused to compile this project config with the compiler found: ${refusals[0]}`, { file });
    }
    throw new McaIssue(NO_COMPILER, { file });
  };
}

/**
 * Compiles with TypeScript's `transpileModule` (its syntax errors at file and line) and imports
 * the module from a file beside the config under a name of its own, so that the config's
 * relative imports work and ranks loading it at once do not share a file, removed once loaded.
 */
async function withTypeScript(ts: TypeScriptApi, file: string, content: string): Promise<unknown> {
  const out = ts.transpileModule(content, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  const error = out.diagnostics?.[0];
  if (error) {
    const text = typeof error.messageText === 'string' ? error.messageText : error.messageText.messageText;
    const at = error.start !== undefined ? offsetToPosition(content, error.start) : {};
    throw new McaIssue(`cannot load config: ${text}`, { file, ...at });
  }
  const compiled = join(dirname(file), `.${basename(file, '.ts')}.${process.pid}-${randomBytes(4).toString('hex')}.mjs`);
  try {
    writeFileSync(compiled, out.outputText, { flag: 'wx', mode: 0o600 });
  } catch {
    // A folder this user may not write (a project root owns): the module alone, without its relative imports.
    const url = `data:text/javascript;base64,${Buffer.from(out.outputText).toString('base64')}`;
    return ((await import(url)) as { default?: unknown }).default;
  }
  try {
    return ((await import(pathToFileURL(compiled).href)) as { default?: unknown }).default;
  } finally {
    rmSync(compiled, { force: true });
  }
}
