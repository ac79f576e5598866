import { rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Loader } from 'cosmiconfig';
import { McaIssue } from './errors.js';
import { offsetToPosition } from './parse-errors.js';
import { findProjectRoot } from './project-root.js';
import { installingProject, resolveTrustedPackage } from './trusted-package.js';
import { type TrustPolicy, UntrustedFileIssue } from './trust.js';

/** The few parts of the TypeScript compiler this uses. */
interface TypeScriptApi {
  transpileModule(
    input: string,
    options: { fileName: string; reportDiagnostics: boolean; compilerOptions: Record<string, unknown> },
  ): { outputText: string; diagnostics?: { start?: number; messageText: string | { messageText: string } }[] };
  ModuleKind: { ES2022: unknown };
  ScriptTarget: { ES2022: unknown };
}

/**
 * Loads a TypeScript project config with a `typescript` installed in the project, or in the one
 * that installed Switchyard: never one from a folder above them (cosmiconfig's own loader imports
 * whichever Node finds first, and reads the tsconfig.json of folders above the project). The
 * compiled module is written beside the config under a name of its own, so that the config's
 * relative imports work and ranks loading it at once do not share a file, and removed once loaded.
 */
export function typeScriptConfigLoader(trust: TrustPolicy): Loader {
  return async (file, content) => {
    const ts = await typeScript(file, trust);
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
  };
}

async function typeScript(file: string, trust: TrustPolicy): Promise<TypeScriptApi> {
  const roots = [findProjectRoot(dirname(file), trust), installingProject()].filter((d): d is string => d !== undefined);
  const found = resolveTrustedPackage('typescript', [file, fileURLToPath(import.meta.url)], roots, trust);
  if (!found) {
    throw new McaIssue(
      "cannot load config: a TypeScript config needs the 'typescript' package in the project ('npm install --save-dev typescript'), " +
        'or write it as .mjs or .json',
      { file },
    );
  }
  if ('refused' in found) {
    throw new UntrustedFileIssue(`refused to compile this project config with the typescript found: ${found.refused}`, { file });
  }
  const loaded = (await import(pathToFileURL(found.file).href)) as { default?: TypeScriptApi } & TypeScriptApi;
  return loaded.default ?? loaded;
}
