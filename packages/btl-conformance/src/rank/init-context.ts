import { hostname } from 'node:os';
import type { BtlInitContext, ComponentParams } from '@switchyard/btl-interface';
import type { WireUp } from '@switchyard/runtime';
import type { KitHost } from './kit-host.js';

/** What `init` gets when the kit loads the component under test: the job's identity, its secret, the kit as the host. */
export function initContext(
  world: { readonly jobId: string; readonly rank: number; readonly size: number },
  wireup: WireUp,
  params: ComponentParams,
  host: KitHost,
): BtlInitContext {
  return {
    jobId: world.jobId,
    rank: world.rank,
    size: world.size,
    hostname: hostname(),
    secret: wireup.secret,
    params,
    host,
    log: (m) => host.log(m),
  };
}
