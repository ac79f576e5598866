/** What stops a command from the terminal or from kill: Ctrl-C, kill, and a terminal (or ssh session) gone. */
const HELD: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Holds back Ctrl-C, SIGTERM and SIGHUP while CRIU holds a job's processes: cut there, the job would be
 * lost (a dump left to finish on its own kills the processes, with nothing written to restore
 * them from). `said` tells the user once why the command goes on; the returned function ends the
 * hold and gives the signal that came, if any.
 */
export function holdStopSignals(said: (signal: NodeJS.Signals) => void): () => NodeJS.Signals | undefined {
  let came: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    // After a hangup the terminal may be gone: what the command still writes must not end it.
    if (signal === 'SIGHUP') ignoreWriteErrors();
    if (came) return;
    came = signal;
    said(signal);
  };
  for (const s of HELD) process.on(s, onSignal);
  return () => {
    for (const s of HELD) process.off(s, onSignal);
    return came;
  };
}

function ignoreWriteErrors(): void {
  for (const stream of [process.stdout, process.stderr]) if (stream.listenerCount('error') === 0) stream.on('error', () => {});
}
