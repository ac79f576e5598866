// The Switchyard BTL conformance kit: real ranks, started with Switchyard's own launcher, use
// this package's built transport (run `npm run build` first; `npm test` does). Every rule that
// fails names what was observed and the section of the guide that explains it.
import { fileURLToPath } from 'node:url';
import { describeConformance } from '@switchyard/btl-conformance';

describeConformance({
  packageDir: fileURLToPath(new URL('..', import.meta.url)),
  ranks: 2,
});
