/**
 * Files of a token's state directory (docs/simulator.md "State"; docs/flash-format.md §1.2 for the image
 * format): atomic writes, and flash images saved and loaded as files. The image bytes themselves come from
 * flash.ts (`RamFlash.toImage` / `RamFlash.fromImage`); this module only adds the file system.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { SimError } from '../errors.ts';
import { RamFlash } from '../flash.ts';

/** Writes `data` atomically (temp file in the same directory + rename), by default with mode 0600. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

/** Writes the flash's image file atomically, mode 0600. */
export function saveFlashImage(flash: RamFlash, path: string): void {
  writeFileAtomic(path, flash.toImage());
}

/** Reads a flash image file; IO when it cannot be read, FLASH_IMAGE when it is not a valid image. */
export function loadFlashImage(path: string): RamFlash {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new SimError('IO', `flash image: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return RamFlash.fromImage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}
