/**
 * CRC-32 as IEEE 802.3 / ISO-HDLC / zlib define it: reflected polynomial 0xEDB88320 (0x04C11DB7 unreflected),
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF; check value CRC-32("123456789") = 0xCBF43926.
 *
 * One implementation for every checksum of that name in tokenforge: the serial carriage's frame check
 * (serial.ts, docs/protocol.md §3) and the flash store's page headers and records (firmware-sim/store.ts,
 * docs/flash-format.md §2). It returns the value as an unsigned 32-bit number; how it is laid out in bytes
 * (little-endian in both of those uses) is the caller's format. Table driven, 1 KiB table built once.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3) of `bytes[start..end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
