import type { ParamRegistry } from '@switchyard/mca';
import { registerBmlParams } from '@switchyard/core-bml';
import { registerPmlParams } from '@switchyard/pml';
import { registerFinalizeParams } from '../../app/finalize-params.js';
import { registerLauncherParams } from '../../app/launcher-params.js';

/** The parameters a rank declares besides its components' (pml_*, bml_*, mpi_*, switchyard_*): what info lists and run checks. */
export function registerOwnParams(params: ParamRegistry): void {
  registerPmlParams(params);
  registerBmlParams(params);
  registerFinalizeParams(params);
  registerLauncherParams(params);
}
