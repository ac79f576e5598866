import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headingAnchors, markdownLinks } from './helpers/markdown-links.js';
import { ROOT } from './helpers/run-job.js';

// The documentation as users get it: a checkout, or the packages' READMEs on a registry page.
// Every relative link must reach a file of the repository (and a heading of it, for `#part`),
// never a folder beside the checkout, and no text may send readers to a document outside it.

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    if (d.name === 'node_modules' || d.name === 'dist' || d.name.startsWith('.')) return [];
    const path = join(dir, d.name);
    if (d.isDirectory()) return markdownFiles(path);
    return d.name.endsWith('.md') ? [path] : [];
  });
}

const DOCS = [
  join(ROOT, 'README.md'),
  ...markdownFiles(join(ROOT, 'docs')),
  ...markdownFiles(join(ROOT, 'packages')),
  ...markdownFiles(join(ROOT, 'examples')),
];

/** A link that leaves the page for the web or mail, not a file of the repository. */
const external = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target);

function problems(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const { target, line } of markdownLinks(text)) {
    if (!target || external(target)) continue;
    const at = `${relative(ROOT, file)}:${line}: ${target}`;
    const [path, anchor] = target.split('#', 2) as [string, string | undefined];
    const to = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
    const inRepo = relative(ROOT, to);
    if (path.startsWith('/') || inRepo.startsWith('..') || inRepo.split(sep).includes('node_modules')) {
      found.push(`${at}: points outside the repository`);
      continue;
    }
    if (!existsSync(to)) {
      found.push(`${at}: no such file`);
      continue;
    }
    if (anchor && to.endsWith('.md') && statSync(to).isFile() && !headingAnchors(readFileSync(to, 'utf8')).has(anchor)) {
      found.push(`${at}: no heading #${anchor} there`);
    }
  }
  return found;
}

describe('documentation links', () => {
  it('finds the documents it checks', () => {
    expect(DOCS.map((f) => relative(ROOT, f))).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md', 'docs/api/README.md']));
  });

  it('every relative link in README.md, docs/ and the packages resolves to a file in the repository', () => {
    expect(DOCS.flatMap(problems)).toEqual([]);
  });

  it('no document sends readers outside the repository (../shared, performance-anchors.md)', () => {
    const mentions = DOCS.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((text, i) => (/\.\.\/shared\b|performance-anchors/.test(text) ? [`${relative(ROOT, file)}:${i + 1}: ${text.trim()}`] : [])),
    );
    expect(mentions).toEqual([]);
  });
});
