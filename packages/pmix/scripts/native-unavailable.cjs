#!/usr/bin/env node
// Last step of `npm install` when the PMIx addon could not be built: say so and succeed, so the
// JavaScript package stays installed. Ranks started by `switchyard run` or plain `node` do not need
// it; a rank started by mpirun or srun --mpi=pmix then fails its init() with this explanation.
'use strict';
console.warn(
  [
    '@switchyard/pmix: the PMIx addon was not built; ranks started by mpirun or srun --mpi=pmix cannot',
    'wire up (switchyard run and plain node still work).',
    'To build it: install libpmix-dev (Debian/Ubuntu; pmix-devel on Fedora), pkg-config and a C compiler,',
    'then run `npm rebuild @switchyard/pmix`. If npm blocked the install script, approve it first:',
    '`npm install-scripts approve @switchyard/pmix`.',
  ].join('\n'),
);
process.exit(0);
