/**
 * The strict RAM model of NOR flash (DESIGN.md "The token model"; docs/flash-format.md §1): the flash every
 * simulated token runs on, and its image file format. It enforces the Flash rules of ports.ts and refuses
 * to break them, like OpenSK's strict RAM flash. Files are the shell's business (host/files.ts saves and
 * loads images); this module only turns an image into bytes and back.
 *
 * Fault injection: `armPowerCut({ afterOps, torn })` makes the `afterOps`-th operation (0-based; every word
 * programmed and every page erased is one operation) fail with `PowerCut`. Without `torn` the operation does
 * not happen at all; with `torn` it happens partly: a programmed word gets a random subset of its bits
 * cleared, an erased page gets a random subset of its words set to 0xFF.
 */
import { ByteReader, ByteWriter } from '../protocol/bytes.ts';
import { PowerCut, SimError } from './errors.ts';
import { WORD_SIZE, type Flash, type FlashGeometry, type Rng } from './ports.ts';

export interface PowerCutPlan {
  /** 0-based index of the operation (word program or page erase) that loses power. */
  afterOps: number;
  /** Leave the interrupted operation half done. */
  torn: boolean;
  rng: Rng;
}

export const DEFAULT_GEOMETRY: FlashGeometry = { pageSize: 4096, pageCount: 16, maxWritesPerWord: 2 };

export class RamFlash implements Flash {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly maxWritesPerWord: number;
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  readonly #writeCounts: Uint8Array;
  readonly #eraseCounts: Uint32Array;
  #ops = 0;
  #cut: PowerCutPlan | undefined;
  /** Totals since construction (for statistics and choosing where to cut). */
  stats = { wordWrites: 0, erases: 0 };

  constructor(geometry: FlashGeometry = DEFAULT_GEOMETRY, init?: { bytes: Uint8Array; writeCounts: Uint8Array; eraseCounts: Uint32Array }) {
    const { pageSize, pageCount, maxWritesPerWord } = geometry;
    if (!Number.isInteger(pageSize) || pageSize < 256 || pageSize % WORD_SIZE !== 0 || pageSize > 1 << 20) {
      throw new SimError('INVALID_ARGUMENT', `flash: pageSize ${pageSize} must be a multiple of 4 in 256..1048576`);
    }
    if (!Number.isInteger(pageCount) || pageCount < 3 || pageCount > 4096) {
      throw new SimError('INVALID_ARGUMENT', `flash: pageCount ${pageCount} must be in 3..4096`);
    }
    if (!Number.isInteger(maxWritesPerWord) || maxWritesPerWord < 1 || maxWritesPerWord > 255) {
      throw new SimError('INVALID_ARGUMENT', `flash: maxWritesPerWord ${maxWritesPerWord} must be in 1..255`);
    }
    this.pageSize = pageSize;
    this.pageCount = pageCount;
    this.maxWritesPerWord = maxWritesPerWord;
    const size = pageSize * pageCount;
    this.bytes = init?.bytes ?? new Uint8Array(size).fill(0xff);
    this.#writeCounts = init?.writeCounts ?? new Uint8Array(size / WORD_SIZE);
    this.#eraseCounts = init?.eraseCounts ?? new Uint32Array(pageCount);
    this.#view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  get size(): number {
    return this.bytes.length;
  }

  /** Operations performed so far (the index the next operation will have). */
  get opCount(): number {
    return this.#ops;
  }

  armPowerCut(plan: PowerCutPlan): void {
    this.#cut = { ...plan, afterOps: this.#ops + plan.afterOps };
  }

  disarmPowerCut(): void {
    this.#cut = undefined;
  }

  #checkRange(addr: number, len: number): void {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || addr + len > this.bytes.length) {
      throw new SimError('FLASH_VIOLATION', `flash: range ${addr}+${len} is outside 0..${this.bytes.length}`);
    }
  }

  read(addr: number, len: number): Uint8Array {
    this.#checkRange(addr, len);
    return this.bytes.slice(addr, addr + len);
  }

  readWord(addr: number): number {
    if (addr % WORD_SIZE !== 0) throw new SimError('FLASH_VIOLATION', `flash: unaligned word read at ${addr}`);
    this.#checkRange(addr, WORD_SIZE);
    return this.#view.getUint32(addr, true);
  }

  /** Returns true when the power cut fires on this operation (the caller then tears it and throws). */
  #tick(): PowerCutPlan | undefined {
    const cut = this.#cut;
    const fire = cut !== undefined && this.#ops === cut.afterOps;
    this.#ops++;
    if (fire) {
      this.#cut = undefined;
      return cut;
    }
    return undefined;
  }

  write(addr: number, data: Uint8Array): void {
    if (addr % WORD_SIZE !== 0 || data.length % WORD_SIZE !== 0) {
      throw new SimError('FLASH_VIOLATION', `flash: write at ${addr} of ${data.length} bytes is not word-aligned`);
    }
    this.#checkRange(addr, data.length);
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    // Check every word first so that a refused write changes nothing.
    for (let i = 0; i < data.length; i += WORD_SIZE) {
      const old = this.#view.getUint32(addr + i, true);
      const next = dv.getUint32(i, true);
      if ((next & ~old) >>> 0 !== 0) {
        throw new SimError('FLASH_VIOLATION', `flash: write at ${addr + i} would set bits 0->1 (erase the page first)`);
      }
      if (this.#writeCounts[(addr + i) / WORD_SIZE]! >= this.maxWritesPerWord) {
        throw new SimError('FLASH_VIOLATION', `flash: word at ${addr + i} already programmed ${this.maxWritesPerWord} times since erase`);
      }
    }
    for (let i = 0; i < data.length; i += WORD_SIZE) {
      const cut = this.#tick();
      const old = this.#view.getUint32(addr + i, true);
      const next = dv.getUint32(i, true);
      if (cut) {
        if (cut.torn) {
          // Clear a random subset of the bits that should be cleared.
          const toClear = (old & ~next) >>> 0;
          const partial = (toClear & (cut.rng.int(0x1_0000_0000) >>> 0)) >>> 0;
          this.#view.setUint32(addr + i, (old & ~partial) >>> 0, true);
          this.#writeCounts[(addr + i) / WORD_SIZE]!++;
        }
        throw new PowerCut();
      }
      this.#view.setUint32(addr + i, (old & next) >>> 0, true);
      this.#writeCounts[(addr + i) / WORD_SIZE]!++;
      this.stats.wordWrites++;
    }
  }

  erase(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pageCount) {
      throw new SimError('FLASH_VIOLATION', `flash: page ${page} is outside 0..${this.pageCount - 1}`);
    }
    const start = page * this.pageSize;
    const cut = this.#tick();
    if (cut) {
      if (cut.torn) {
        for (let a = start; a < start + this.pageSize; a += WORD_SIZE) {
          if (cut.rng.float() < 0.5) {
            this.#view.setUint32(a, 0xffffffff, true);
            this.#writeCounts[a / WORD_SIZE] = 0;
          }
        }
      }
      throw new PowerCut();
    }
    this.bytes.fill(0xff, start, start + this.pageSize);
    this.#writeCounts.fill(0, start / WORD_SIZE, (start + this.pageSize) / WORD_SIZE);
    this.#eraseCounts[page]!++;
    this.stats.erases++;
  }

  eraseCount(page: number): number {
    return this.#eraseCounts[page] ?? 0;
  }

  /** Serialises the flash as an image file (docs/flash-format.md §1.2). */
  toImage(): Uint8Array {
    const size = IMAGE_HEADER + this.pageCount * 4 + this.#writeCounts.length + this.bytes.length;
    const w = new ByteWriter({ endian: 'little', what: 'flash image', capacity: size });
    w.bytes(IMAGE_MAGIC).u32(this.pageSize).u32(this.pageCount).u32(this.maxWritesPerWord).padTo(IMAGE_HEADER);
    for (const c of this.#eraseCounts) w.u32(c);
    return w.bytes(this.#writeCounts).bytes(this.bytes).done();
  }

  /** Parses an image file; strict: magic, geometry, exact length. */
  static fromImage(image: Uint8Array): RamFlash {
    if (image.length < IMAGE_HEADER) throw new SimError('FLASH_IMAGE', 'flash image: shorter than its 32-byte header');
    const r = new ByteReader(image, { endian: 'little', what: 'flash image', error: (_fault, message) => new SimError('FLASH_IMAGE', message) });
    const magic = r.bytes(IMAGE_MAGIC.length);
    if (!magic.every((b, i) => b === IMAGE_MAGIC[i])) throw new SimError('FLASH_IMAGE', 'flash image: bad magic (not a tokenforge flash image)');
    const pageSize = r.u32();
    const pageCount = r.u32();
    const maxWritesPerWord = r.u32();
    const geometry = { pageSize, pageCount, maxWritesPerWord };
    let probe: RamFlash;
    try {
      probe = new RamFlash(geometry);
    } catch (e) {
      throw new SimError('FLASH_IMAGE', `flash image: bad geometry (${(e as Error).message})`);
    }
    const size = geometry.pageSize * geometry.pageCount;
    const expected = IMAGE_HEADER + geometry.pageCount * 4 + size / WORD_SIZE + size;
    if (image.length !== expected) {
      throw new SimError('FLASH_IMAGE', `flash image: length ${image.length}, expected ${expected} for its geometry`);
    }
    r.bytes(IMAGE_HEADER - r.offset); // reserved
    const eraseCounts = new Uint32Array(geometry.pageCount);
    for (let p = 0; p < geometry.pageCount; p++) eraseCounts[p] = r.u32();
    const writeCounts = r.bytes(size / WORD_SIZE);
    for (const c of writeCounts) {
      if (c > geometry.maxWritesPerWord) throw new SimError('FLASH_IMAGE', 'flash image: a word write count exceeds the limit');
    }
    void probe;
    const bytes = r.bytes(size);
    r.end();
    return new RamFlash(geometry, { bytes, writeCounts, eraseCounts });
  }
}

export const IMAGE_MAGIC = new TextEncoder().encode('TFFLASH1');
export const IMAGE_HEADER = 32;
