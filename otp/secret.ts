/**
 * `Secret`: a byte string that must never be logged, serialised or echoed (STYLE.md rule 14).
 *
 * The bytes are reachable only through `exposeSecretBytes()`, so every place that touches key material is
 * greppable. `toString`, `toJSON` and Node's inspect hook print a redacted placeholder. `wipe()` zeroes the
 * buffer; a wiped secret throws on use.
 */

const REDACTED = '[Secret redacted]';

export class Secret {
  #bytes: Uint8Array;
  #wiped = false;

  /** Takes ownership of `bytes` (no copy): the caller must not keep using the array. */
  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('Secret: bytes must be a Uint8Array');
    this.#bytes = bytes;
  }

  /** Copies `bytes` into a new Secret. */
  static copyOf(bytes: Uint8Array): Secret {
    return new Secret(Uint8Array.from(bytes));
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** The raw bytes. Do not keep the reference longer than needed and never log it. */
  exposeSecretBytes(): Uint8Array {
    if (this.#wiped) throw new Error('Secret: used after wipe()');
    return this.#bytes;
  }

  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}
