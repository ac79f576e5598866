import { randomBytes } from 'node:crypto';
import type { BtlHost, BtlInitContext, BtlModule } from '@switchyard/btl-interface';

/**
 * The host of the impostor's modules: what they are told (errors, logs) is the impostor's
 * business, never the module under test's, so it stays out of the kit's own host.
 */
export class ImpostorHost implements BtlHost {
  constructor(private readonly hostLog: (message: string) => void) {}

  receive(): void {
    // Nobody sends to the impostor: the kit only sends from it.
  }
  writable(): void {}
  error(): void {
    // Refused by its peers, the impostor's links may well fail: nothing of the rule's to judge.
  }
  log(message: string): void {
    this.hostLog(`impostor: ${message}`);
  }
}

export interface Impostor {
  readonly modules: readonly BtlModule[];
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
  return { modules: await init(context) };
}

/** A secret of the same length as the job's, and not it. */
function wrongSecret(secret: string): string {
  const length = Math.max(16, secret.length);
  const fresh = randomBytes(length).toString('hex').slice(0, length);
  return fresh === secret ? `${fresh}x` : fresh;
}
