import type { CommandIO } from '@switchyard/cli-kit';
import { BenchInterrupted, BenchRunError } from './errors.js';
import { ProgressDisplay } from './progress.js';

const TRAPPED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * What every bench command does around its measurement: progress on stderr, Ctrl-C (and TERM,
 * HUP) turned into an abort that ends every process the bench started, and its errors turned
 * into exit codes (1 for a failed run, 128+N for signal N). With `json`, a failure is answered on
 * stdout too (`ok: false`), as usage errors are: a tool that asked for JSON reads only stdout.
 */
export async function benchFrame(
  name: string,
  io: CommandIO,
  json: boolean,
  body: (context: { display: ProgressDisplay; signal: AbortSignal }) => Promise<number>,
): Promise<number> {
  const display = new ProgressDisplay(io.stderr);
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => controller.abort(signal);
  TRAPPED.forEach((s) => process.on(s, onSignal));
  // A reader that went away (`| head`) stops what runs, as SIGPIPE would (the exit code is
  // set by the bench command's own listener). Left listening: the error may come after the body.
  io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') controller.abort('SIGPIPE');
  });
  try {
    return await body({ display, signal: controller.signal });
  } catch (err) {
    display.clear();
    if (err instanceof BenchInterrupted) {
      const code = 'ERR_SWITCHYARD_BENCH_INTERRUPTED';
      if (json) answerJson(io, { ok: false, outcome: 'interrupted', code, signal: err.signal, message: err.message });
      io.stderr.write(`${name}: ${err.message}; every process it started has ended\n`);
      return err.exitCode;
    }
    if (err instanceof BenchRunError) {
      if (json) answerJson(io, { ok: false, outcome: 'failed', code: 'ERR_SWITCHYARD_BENCH_RUN', message: err.message });
      io.stderr.write(`${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    TRAPPED.forEach((s) => process.off(s, onSignal));
  }
}

function answerJson(io: CommandIO, answer: object): void {
  // A reader gone already (EPIPE) is handled by the command's own listener.
  io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
}
