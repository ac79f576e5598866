/**
 * Whether a failure should show its stack trace: only when asked for, with the CLI's `--verbose`
 * or any `*_verbose` MCA parameter above 0 (in the environment, or `--mca` pairs given). A user
 * otherwise gets the one line that says what is wrong.
 */
export function verboseRequested(env: NodeJS.ProcessEnv = process.env, mcaPairs: ReadonlyArray<readonly [string, string]> = []): boolean {
  const fromEnv = Object.entries(env).filter(([name]) => /^SWITCHYARD_MCA_\w*verbose$/.test(name));
  const fromCli = mcaPairs.filter(([name]) => /_verbose$/.test(name));
  return [...fromEnv, ...fromCli].some(([, value]) => isPositive(value));
}

function isPositive(value: string | undefined): boolean {
  if (value === undefined) return false;
  const text = value.trim().toLowerCase();
  return Number(text) > 0 || ['true', 'yes', 'on'].includes(text);
}

/** One line naming the failure, then the stack only when `verbose`. */
export function describeFailure(err: unknown, verbose: boolean): string {
  const error = err instanceof Error ? err : new Error(String(err));
  return verbose && error.stack ? `${error.message}\n${error.stack}` : error.message;
}
