import { newJobSecret } from './job-id.js';
import type { WireUp } from './wireup.js';
import { mcaCommandLineFrom } from './wireup-env.js';

/**
 * The wire-up of a process started without a launcher (`node app.js`): a job of one rank, as
 * Open MPI's singleton init. Collectives complete at once; there is no one to send requests.
 */
export class SingletonWireUp implements WireUp {
  readonly kind = 'singleton';
  readonly jobId: string;
  readonly rank = 0;
  readonly size = 1;
  /** Fresh per process: nobody else needs to know it. */
  readonly secret = newJobSecret();
  readonly mcaCommandLine: Array<[string, string]>;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.jobId = `singleton-${process.pid}`;
    this.mcaCommandLine = mcaCommandLineFrom(env);
  }

  async exchange(data: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
    // Through JSON, as the embedded wire-up does, so a singleton sees the same values a rank would.
    return [JSON.parse(JSON.stringify(data)) as Record<string, unknown>];
  }

  async barrier(): Promise<void> {}

  onRequest(): void {}

  notify(): void {}

  abort(code: number, message: string): Promise<never> {
    process.stderr.write(`switchyard: rank 0 aborted with code ${code}: ${message}\n`);
    process.exit(code);
  }

  async finalize(): Promise<void> {}
}
