import type { JobRecord, ToolClient } from '@switchyard/runtime';
import { TOOL_CTL } from '../protocol.js';

/** A failure to report as `switchyard ctl: <message>` with exit code 1 (not a usage error). */
/** Opens the tool connection to a job's launcher (ctl's own, or a test's). */
export type Connect = (job: JobRecord) => Promise<ToolClient>;

export class CtlError extends Error {
  override readonly name = 'CtlError';
  /** A typed reason where a tool may act on it (checkpoint save refusals). */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** A tool call with the job, its failures worded for the user. */
export async function call(client: ToolClient, method: string, params: unknown, timeoutMs: number | undefined): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const answer = client.call(method, params);
  const timeout =
    timeoutMs === undefined
      ? undefined
      : new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new CtlError(timeoutMessage(client.jobId, method, timeoutMs))), timeoutMs);
        });
  try {
    return await (timeout ? Promise.race([answer, timeout]) : answer);
  } catch (err) {
    if (err instanceof CtlError) throw err;
    const message = (err as Error).message;
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_SWITCHYARD_UNKNOWN_METHOD') {
      throw new CtlError(`job ${client.jobId} does not take control verbs: its launcher runs no coordinator (${message})`, code);
    }
    if (code === 'ERR_SWITCHYARD_TOOL_CONNECTION_CLOSED') {
      const lost = `lost the connection to job ${client.jobId}; the job has probably ended`;
      throw new CtlError(`${method === TOOL_CTL ? 'failed: ' : ''}${lost}`, code);
    }
    // A method's own typed refusal (`rank.leave`) keeps its code.
    throw new CtlError(`${method === TOOL_CTL ? 'failed: ' : ''}${message}`, typeof code === 'string' ? code : undefined);
  } finally {
    clearTimeout(timer);
    // A late answer after a timeout is of no interest.
    answer.catch(() => {});
  }
}

function timeoutMessage(jobId: string, method: string, ms: number): string {
  if (method === TOOL_CTL)
    return `no answer from job ${jobId} within ${ms} ms; the verb may still be running (see 'switchyard ctl status')`;
  return `no answer from job ${jobId} within ${ms} ms`;
}
