/**
 * Sealing of secrets at rest inside the token (seeds, the device private key). A real token keeps a hardware
 * unique key (HUK) in fuses or a secure element and stores seeds encrypted under it, so a dumped flash image
 * does not reveal them; the simulator does the same, so flash image files under `--state` never hold a seed in
 * clear. Sealed form: nonce(12) | AES-256-GCM ciphertext | tag(16), AAD = the store key it is kept under.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { SimError } from './errors.ts';
import type { Rng } from './ports.ts';

export const SEAL_OVERHEAD = 28;

export interface Vault {
  seal(plain: Uint8Array, context: number): Uint8Array;
  /** Throws STORE_CORRUPT if the sealed bytes were altered. The caller wipes the result after use. */
  unseal(sealed: Uint8Array, context: number): Uint8Array;
}

function aad(context: number): Uint8Array {
  return new Uint8Array([0x54, 0x46, context & 0xff, (context >>> 8) & 0xff]);
}

export class AesGcmVault implements Vault {
  readonly #huk: Uint8Array;
  readonly #rng: Rng;
  constructor(huk: Uint8Array, rng: Rng) {
    if (!(huk instanceof Uint8Array) || huk.length !== 32) throw new RangeError('vault: huk must be 32 bytes');
    this.#huk = Uint8Array.from(huk);
    this.#rng = rng;
  }
  seal(plain: Uint8Array, context: number): Uint8Array {
    const nonce = new Uint8Array(12);
    this.#rng.fill(nonce);
    const ct = gcm(this.#huk, nonce, aad(context)).encrypt(plain);
    const out = new Uint8Array(12 + ct.length);
    out.set(nonce, 0);
    out.set(ct, 12);
    return out;
  }
  unseal(sealed: Uint8Array, context: number): Uint8Array {
    if (sealed.length < SEAL_OVERHEAD) throw new SimError('STORE_CORRUPT', 'vault: sealed value too short');
    try {
      return gcm(this.#huk, sealed.subarray(0, 12), aad(context)).decrypt(sealed.subarray(12));
    } catch {
      throw new SimError('STORE_CORRUPT', 'vault: sealed value failed authentication (flash corrupted or wrong HUK)');
    }
  }
}
