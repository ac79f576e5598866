import { join } from 'node:path';
import { describeConformance } from '@switchyard/btl-conformance';
import { ROOT } from './helpers/run-job.js';

// Every first-party BTL passes the kit third-party BTLs run. btl-self reaches no other rank, so
// the rules that move traffic between ranks are reported as not applicable, with the reason.
describeConformance({ packageDir: join(ROOT, 'packages/btl-self') });
describeConformance({ packageDir: join(ROOT, 'packages/btl-tcp') });
describeConformance({ packageDir: join(ROOT, 'packages/btl-sm') });
describeConformance({ packageDir: join(ROOT, 'packages/btl-openib'), params: { btl_openib_provider: 'soft' } });
// sm's large copies run on libuv's thread pool: with btl_sm_offload_min 1 every get and put of the
// rdma rule takes that path (bounds, released memory, exactly-once asynchronous completion).
describeConformance({
  packageDir: join(ROOT, 'packages/btl-sm'),
  params: { btl_sm_offload_min: '1', btl_sm_offload_pieces: '3' },
  only: ['rdma'],
});
