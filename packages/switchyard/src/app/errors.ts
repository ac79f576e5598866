export { MpiError, type MpiErrorCode } from '@switchyard/pml';
