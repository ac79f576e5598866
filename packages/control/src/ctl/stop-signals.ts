/** What stops a command from the terminal or from kill: Ctrl-C, kill, and a terminal (or ssh session) gone. */
const HELD: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Holds back Ctrl-C, SIGTERM and SIGHUP while CRIU holds a job's processes: cut there, the job would be
 * lost (a dump left to finish on its own kills the processes, with nothing written to restore
 * them from). `said` tells the user once why the command goes on; the returned function ends the
 * hold and gives the signal that came, if any. A reader of the command's output that goes away
 * (`... | head`) does not end it either meanwhile: what it still writes is dropped.
 */
export function holdStopSignals(said: (signal: NodeJS.Signals) => void): () => NodeJS.Signals | undefined {
  const restorePipes = holdClosedPipes();
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
    restorePipes();
    return came;
  };
}

/**
 * Until the returned function is called, a write error on stdout or stderr (EPIPE: the reader is
 * gone) is ignored instead of ending the command through its usual listeners (the CLI ends a
 * command whose reader went away, as SIGPIPE would). A stream that broke meanwhile stays ignored:
 * the command finishes, and what it still writes there is dropped.
 */
function holdClosedPipes(): () => void {
  const streams = [process.stdout, process.stderr];
  const broken = new Set<NodeJS.WriteStream>();
  const usual = streams.map((s) => {
    const listeners = s.rawListeners('error') as Array<(...args: unknown[]) => void>;
    const ignore = () => void broken.add(s);
    s.removeAllListeners('error');
    s.on('error', ignore);
    return { listeners, ignore };
  });
  return () =>
    streams.forEach((s, i) => {
      if (broken.has(s)) return;
      const { listeners, ignore } = usual[i]!;
      s.off('error', ignore);
      for (const listener of listeners) s.on('error', listener);
    });
}

function ignoreWriteErrors(): void {
  for (const stream of [process.stdout, process.stderr]) if (stream.listenerCount('error') === 0) stream.on('error', () => {});
}
