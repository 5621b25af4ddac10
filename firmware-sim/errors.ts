/**
 * Errors of the firmware-sim layer (STYLE.md rule 7). Callers switch on `code`.
 *
 * `PowerCut` is not a failure of the simulator: it is the injected event "the supply vanished during this
 * flash operation". Code that catches it must stop touching the device and reboot it (the RAM state is lost;
 * only the flash survives).
 */
import { TokenforgeError } from '../otp/errors.ts';

export type SimErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_PROFILE'
  | 'FLASH_VIOLATION'
  | 'FLASH_IMAGE'
  | 'STORE_CORRUPT'
  | 'STORE_FULL'
  | 'POWER_CUT'
  | 'STATE'
  | 'NOT_FOUND'
  | 'IO';

export class SimError extends TokenforgeError<SimErrorCode> {}

/** Thrown by the flash model when an armed power cut fires. */
export class PowerCut extends SimError {
  constructor() {
    super('POWER_CUT', 'flash: power cut during a flash operation (injected)');
  }
}

export function isPowerCut(e: unknown): e is PowerCut {
  return e instanceof PowerCut;
}
