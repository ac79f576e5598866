// `switchyard bench` as a user runs it: the app package's CLI, which loads this package's command.
export { cli } from '../../switchyard/test/capture.js';
