import { PassThrough } from 'node:stream';
import { main } from '../src/cli/main.js';

/** Runs the CLI in-process with captured output. */
export async function cli(argv: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await main(argv, { stdout, stderr, cwd: options.cwd, env: options.env ?? { HOME: options.cwd } });
  return { code, stdout: out, stderr: err };
}
