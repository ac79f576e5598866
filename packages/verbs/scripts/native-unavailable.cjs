#!/usr/bin/env node
// Last step of `npm install` when the native verbs addon could not be built: say so and succeed,
// so the JavaScript package (and the soft verbs provider) stays installed. The component then
// reports "unavailable" with the cause in `switchyard info`.
'use strict';
console.warn(
  [
    '@switchyard/verbs: the native verbs addon was not built; the openib component will report',
    "'unavailable' (the software verbs provider, btl_openib_provider=soft, still works).",
    'To build it: install libibverbs-dev (Debian/Ubuntu; rdma-core-devel on Fedora) and a C++ compiler,',
    'then run `npm rebuild @switchyard/verbs`. If npm blocked the install script, approve it first:',
    '`npm install-scripts approve @switchyard/verbs`.',
  ].join('\n'),
);
process.exit(0);
