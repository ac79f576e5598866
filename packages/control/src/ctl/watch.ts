import type { CommandIO } from '@switchyard/cli-kit';
import type { CtlStatus } from '../coordinator.js';

/** Signals that end `ctl status --watch` quietly (Ctrl-C, a closed terminal, kill). */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface WatchOptions {
  readonly intervalMs: number;
  /** One status, or a rejection once the job is gone. */
  readonly fetch: () => Promise<CtlStatus>;
  readonly render: (status: CtlStatus) => string;
  readonly json: boolean;
}

/**
 * `ctl status --watch`: on a terminal the screen is redrawn with each status; otherwise (a file,
 * a pipe) each status is appended under a timestamp line, or as one JSON object per line with
 * `--json`. Ends with 0 on Ctrl-C or when the job ends (its connection closes).
 */
export async function watchStatus(io: CommandIO, options: WatchOptions): Promise<number> {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = () => stop();
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const redraw = io.stdout.isTTY === true && !options.json;
  try {
    for (;;) {
      let status: CtlStatus;
      try {
        status = await Promise.race([options.fetch(), stopped.then(() => undefined)]) as CtlStatus;
      } catch (err) {
        io.stderr.write(`switchyard ctl: ${(err as Error).message}\n`);
        return 0;
      }
      if (!status) return 0;
      const at = new Date().toISOString();
      if (options.json) io.stdout.write(`${JSON.stringify({ at, ...status })}\n`);
      else if (redraw) io.stdout.write(`\x1b[H\x1b[2J${at} (every ${options.intervalMs / 1000} s; Ctrl-C ends)\n${options.render(status)}`);
      else io.stdout.write(`--- ${at}\n${options.render(status)}`);
      let timer: NodeJS.Timeout | undefined;
      const slept = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), options.intervalMs)));
      const again = await Promise.race([slept, stopped.then(() => false)]);
      clearTimeout(timer);
      if (!again) return 0;
    }
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  }
}
