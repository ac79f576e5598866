import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/run-job.js';

// Every ```ts sample of docs/writing-a-btl.md is type-checked against the workspace's public
// packages, so the guide cannot drift from the API. A sample is a module of its own
// (`file=NAME.ts` names it, so a later sample can import it); `ts continued` appends to the
// sample before it.
const GUIDE = join(ROOT, 'docs/writing-a-btl.md');

interface Sample {
  readonly file: string;
  /** Guide line of each of the file's lines (1-based both). */
  readonly guideLines: number[];
  text: string;
}

function extractSamples(markdown: string): Sample[] {
  const samples: Sample[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```ts(?:\s+(.*))?$/.exec(lines[i]!);
    if (!fence) continue;
    const attributes = (fence[1] ?? '').split(/\s+/).filter(Boolean);
    const body: string[] = [];
    const at: number[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) {
      body.push(lines[i]!);
      at.push(i + 1);
    }
    if (attributes.includes('continued')) {
      const previous = samples.at(-1);
      if (!previous) throw new Error(`${GUIDE}:${at[0]! - 1}: a 'continued' sample with no sample before it`);
      previous.text += `\n${body.join('\n')}`;
      previous.guideLines.push(...at);
      continue;
    }
    const named = attributes.find((a) => a.startsWith('file='))?.slice(5);
    samples.push({ file: named ?? `sample-${String(samples.length + 1).padStart(2, '0')}.ts`, guideLines: at, text: body.join('\n') });
  }
  return samples;
}

const samples = extractSamples(readFileSync(GUIDE, 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'sy-guide-'));
/** tsc's diagnostics by file. */
const diagnostics = new Map<string, string[]>();
// A sample with a known type error: proves the samples really went through the compiler.
const CANARY = {
  file: 'canary.ts',
  text: "import { BtlFlag } from '@switchyard/btl-interface';\nexport const wrong: string = BtlFlag.SEND;\n",
};

beforeAll(() => {
  for (const s of samples) writeFileSync(join(work, s.file), `${s.text}\n`);
  writeFileSync(join(work, CANARY.file), CANARY.text);
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'guide-samples', private: true, type: 'module' }));
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        isolatedModules: true,
        verbatimModuleSyntax: true,
        // The packages' sources, so the check needs no build; the types are the published ones.
        customConditions: ['@switchyard/source'],
      },
      files: [...samples.map((s) => s.file), CANARY.file],
    }),
  );
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', work, '--pretty', 'false'], {
    cwd: work,
    encoding: 'utf8',
    timeout: 120_000,
  });
  for (const line of `${r.stdout}${r.stderr}`.split('\n')) {
    const m = /^([^(]+)\((\d+),\d+\): (error .*)$/.exec(line);
    if (!m) continue;
    const list = diagnostics.get(m[1]!) ?? [];
    list.push(`${m[2]}: ${m[3]}`);
    diagnostics.set(m[1]!, list);
  }
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('docs/writing-a-btl.md', () => {
  it('has samples for the component, the module, parameters, errors and the kit', () => {
    expect(samples.length).toBeGreaterThanOrEqual(10);
    expect(samples.some((s) => s.text.includes('implements BtlModule'))).toBe(true);
    expect(samples.some((s) => s.text.includes('describeConformance('))).toBe(true);
  });

  it('type-checks the samples for real (a wrong one is reported)', () => {
    expect(diagnostics.get(CANARY.file)?.join('\n')).toMatch(/^2: error TS2322/);
  });

  for (const sample of samples) {
    const first = sample.guideLines[0]!;
    it(`compiles the sample at line ${first} (${sample.file})`, () => {
      const errors = (diagnostics.get(sample.file) ?? []).map((d) => {
        const [line, message] = [Number(d.slice(0, d.indexOf(':'))), d.slice(d.indexOf(':') + 2)];
        return `${GUIDE}:${sample.guideLines[line - 1] ?? first}: ${message}`;
      });
      expect(errors).toEqual([]);
    });
  }

  it('is linked from the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.includes('](docs/writing-a-btl.md)'), 'README.md links docs/writing-a-btl.md').toBe(true);
  });
});
