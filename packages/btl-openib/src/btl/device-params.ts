import type { ComponentParams } from '@switchyard/btl-interface';

/**
 * Defaults per device, as Open MPI's mca-btl-openib-device-params.ini gives each HCA its own
 * eager limit and fragment size: what suits the hardware differs more than one default can say.
 * A row's values replace the declared defaults when the component opens on that device; a value
 * the user set (any file, the environment, --mca, ctl apply) still wins, and `switchyard info`
 * shows the value in force with its source, `device (btl-openib device params: <row>)`.
 */
export interface DeviceParams {
  /** The row's name, as `info` shows it. */
  readonly name: string;
  /** The devices it is for, by name (Open MPI's rows match vendor and part ids). */
  readonly devices: RegExp;
  readonly eagerLimit?: number;
  readonly maxSendSize?: number;
}

/**
 * The soft provider's device moves bytes memory to memory (a ring or one CMA copy), never over
 * a wire: a fragment costs a wake-up of the peer far more than its bytes, so a message of up to
 * 64 KiB sent eagerly (one SEND, read by CMA) beats a rendezvous (RGET, RDMA read and ACK), as
 * btl-sm's 64 KiB eager limit does. The limits count the headers too: 64 KiB of payload plus
 * room for the layer above's header (the PML's is 20-32 bytes), so a 64 KiB message is eager,
 * and the receive buffers stay the size they were (the declared max_send_size is 64 KiB).
 */
const SOFT_EAGER = 64 * 1024 + 64;
const SOFT: DeviceParams = { name: 'soft', devices: /^soft\d+$/, eagerLimit: SOFT_EAGER, maxSendSize: SOFT_EAGER };

const TABLE: readonly DeviceParams[] = [SOFT];

/**
 * The row for the devices the component opens on, if the table has one for each of them (and
 * the same one: the parameters are the component's, not a port's). Native HCAs have none yet and
 * keep the declared defaults.
 */
export function deviceParamsFor(devices: readonly string[]): DeviceParams | undefined {
  return TABLE.find((r) => devices.length > 0 && devices.every((d) => r.devices.test(d)));
}

/**
 * Puts the row's values in force where the user set nothing. The eager limit never goes above
 * the max_send_size in force (one the user set lower keeps a consistent pair).
 */
export function applyDeviceParams(params: ComponentParams, row: DeviceParams | undefined): void {
  if (!row || !params.deviceDefault) return;
  const origin = `btl-openib device params: ${row.name}`;
  if (row.maxSendSize !== undefined) params.deviceDefault('max_send_size', row.maxSendSize, origin);
  if (row.eagerLimit !== undefined) {
    params.deviceDefault('eager_limit', Math.min(row.eagerLimit, params.get<number>('max_send_size')), origin);
  }
}
