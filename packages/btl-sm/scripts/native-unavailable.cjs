#!/usr/bin/env node
// Last step of `npm install` when the shared-memory addon could not be built: say so and succeed,
// so the rest of Switchyard installs. The sm component then reports "unavailable" with the cause
// in `switchyard info`, and jobs use the other transports.
'use strict';
console.warn(
  [
    "@switchyard/btl-sm: the shared-memory addon was not built; the sm component will report 'unavailable'",
    '(jobs on one host fall back to tcp). It needs a C++ compiler and Node\'s headers (node-gyp); then run',
    '`npm rebuild @switchyard/btl-sm`. If npm blocked the install script, approve it first:',
    '`npm install-scripts approve @switchyard/btl-sm`.',
  ].join('\n'),
);
process.exit(0);
