import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cli } from './capture.js';

// A misspelt command is a usage error (exit 2) that names the command it was probably meant to be.
describe('switchyard with an unknown command', () => {
  it.each([
    ['verb', 'verbs'],
    ['ctrl', 'ctl'],
    ['runn', 'run'],
  ])("suggests the nearest command for '%s'", async (typed, meant) => {
    const { code, stdout, stderr } = await cli([typed, 'list'], { cwd: tmpdir() });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^switchyard: unknown command '${typed}'; did you mean '${meant}'\\?\\n\\nUsage: switchyard`));
  });

  it('suggests nothing for a word near no command', async () => {
    const { code, stderr } = await cli(['frobnicate'], { cwd: tmpdir() });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^switchyard: unknown command 'frobnicate'\n\nUsage: switchyard/);
  });
});
