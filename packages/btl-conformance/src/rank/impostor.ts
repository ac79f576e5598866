import { randomBytes } from 'node:crypto';
import type { BtlErrorEvent, BtlHost, BtlInitContext, BtlModule } from '@switchyard/btl-interface';

/**
 * The host of the impostor's modules: what they are told (errors, logs) is the impostor's
 * business, never the module under test's, so it stays out of the kit's own host.
 */
export class ImpostorHost implements BtlHost {
  readonly errors: BtlErrorEvent[] = [];

  constructor(private readonly hostLog: (message: string) => void) {}

  receive(): void {
    // Nobody sends to the impostor: the kit only sends from it.
  }
  writable(): void {}
  error(event: BtlErrorEvent): void {
    this.errors.push(event);
  }
  log(message: string): void {
    this.hostLog(`impostor: ${message}`);
  }
}

export interface Impostor {
  readonly modules: readonly BtlModule[];
  readonly host: ImpostorHost;
}

/**
 * A second instance of the component under test in this rank's process, initialised with the
 * job's id and this rank's number but a secret of its own: a caller that knows everything the
 * modex publishes (cards, ranks, the job id), and not the secret. The component's `init` is
 * called outside the framework, so the real load stays as it is.
 */
export async function startImpostor(
  init: (ctx: BtlInitContext) => Promise<BtlModule[]> | BtlModule[],
  realContext: BtlInitContext,
  log: (message: string) => void,
): Promise<Impostor> {
  const host = new ImpostorHost(log);
  const context: BtlInitContext = { ...realContext, secret: wrongSecret(realContext.secret), host, log: (m) => host.log(m) };
  return { modules: await init(context), host };
}

/** A secret of the same length as the job's, and not it. */
function wrongSecret(secret: string): string {
  const length = Math.max(16, secret.length);
  const fresh = randomBytes(length).toString('hex').slice(0, length);
  return fresh === secret ? `${fresh}x` : fresh;
}
