/** The signals that mean "stop the job" when sent to the launcher. */
const TRAPPED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Routes SIGINT/SIGTERM/SIGHUP of this process to `handler` instead of Node's default (die at
 * once, leaving ranks behind). Returns the function that restores the defaults.
 */
export function trapSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  const listener = (signal: NodeJS.Signals) => handler(signal);
  for (const signal of TRAPPED) process.on(signal, listener);
  return () => {
    for (const signal of TRAPPED) process.off(signal, listener);
  };
}
