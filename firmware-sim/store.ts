/**
 * A log-structured key-value store on NOR flash with checksummed records, atomic multi-key updates and
 * compaction. The normative spec is docs/flash-format.md §2; this file implements it. Keys are registered in
 * store-keys.ts (the one registry of flash keys).
 *
 * Invariants (checked by test/sim/store.test.ts against a model after every simulated power cut):
 * - A transaction is one record; it is applied at boot only if its CRC matches, so a power cut at any word
 *   (torn or not) leaves the store exactly as before or exactly as after the transaction.
 * - Every word is programmed once between erases; pages are only ever appended to.
 * - One erased page is always kept in reserve so that compaction can run; live data is capped at
 *   `maxLiveBytes` so that the live items of any page plus the largest record always fit in a fresh page.
 * - Compaction copies the live items of the oldest page into the head together with a META item
 *   "pages of generation <= G are retired", then erases the old page; boot ignores and re-erases retired pages,
 *   so a cut during that erase cannot resurrect stale or deleted items.
 * - Boot also erases pages with a torn header and pages with a header but no record, so at most one page is
 *   ever in flight and the reserve page always comes back.
 */
import { ByteReader, ByteWriter } from '../protocol/bytes.ts';
import { crc32 } from '../protocol/crc32.ts';
import { SimError } from './errors.ts';
import { WORD_SIZE, type Flash } from './ports.ts';

export const PAGE_MAGIC = 0x31534654; // "TFS1" little-endian
export const PAGE_HEADER_BYTES = 12;
export const RECORD_OVERHEAD = 8; // length word + CRC word
export const ITEM_HEADER_BYTES = 4;
export const DELETED = 0xffff;
/** Reserved key: store metadata (retired generation). */
export const META_KEY = 0;
export const MAX_KEY = 0xfffe;
const META_ITEM_BYTES = ITEM_HEADER_BYTES + 4;

export type StoreOp = { key: number; value: Uint8Array | null };

interface Entry {
  value: Uint8Array;
  gen: number;
}

interface PageInfo {
  page: number;
  gen: number;
  /** Offset of the first byte after the last valid record. */
  end: number;
  /** False when garbage follows `end` (an interrupted write): nothing more may be appended. */
  cleanTail: boolean;
}

export interface StoreStats {
  liveBytes: number;
  maxLiveBytes: number;
  usedPages: number;
  freePages: number;
  compactions: number;
  records: number;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

export class KvStore {
  readonly flash: Flash;
  readonly maxLiveBytes: number;
  readonly maxRecordBytes: number;
  #index = new Map<number, Entry>();
  /** Valid, non-retired pages, oldest first. */
  #pages: PageInfo[] = [];
  #free: number[] = [];
  #retiredBelow = -1;
  #nextGen = 1;
  #liveBytes = 0;
  #compactions = 0;
  #records = 0;

  private constructor(flash: Flash) {
    this.flash = flash;
    const usable = flash.pageSize - PAGE_HEADER_BYTES - RECORD_OVERHEAD - META_ITEM_BYTES;
    this.maxLiveBytes = Math.floor(usable / 2 / WORD_SIZE) * WORD_SIZE - WORD_SIZE;
    this.maxRecordBytes = this.maxLiveBytes;
  }

  /** Boots the store: scans all pages, rebuilds the index, erases dirty and retired pages. */
  static open(flash: Flash): KvStore {
    const s = new KvStore(flash);
    s.#boot();
    return s;
  }

  #boot(): void {
    const f = this.flash;
    type Scanned = PageInfo & { records: StoreOp[][] };
    const valid: Scanned[] = [];
    const dirty: number[] = [];
    const erased: number[] = [];
    for (let p = 0; p < f.pageCount; p++) {
      const base = p * f.pageSize;
      const w0 = f.readWord(base);
      const w1 = f.readWord(base + 4);
      const w2 = f.readWord(base + 8);
      if (w0 === PAGE_MAGIC && w2 === headerCrc(w1)) {
        valid.push({ page: p, gen: w1, ...this.#scanPage(p) });
      } else if (this.#allErased(base, 0)) {
        erased.push(p);
      } else {
        dirty.push(p);
      }
    }
    let retiredBelow = -1;
    for (const pg of valid) {
      for (const rec of pg.records) {
        for (const op of rec) if (op.key === META_KEY && op.value) retiredBelow = Math.max(retiredBelow, readU32(op.value));
      }
    }
    valid.sort((a, b) => a.gen - b.gen);
    this.#retiredBelow = retiredBelow;
    this.#nextGen = Math.max(1, ...valid.map((v) => v.gen + 1), retiredBelow + 1);
    // A page with a header but no record holds nothing; it is what a cut leaves after opening a page (e.g.
    // for compaction). Erasing it at boot restores the reserve page that compaction needs.
    const live = valid.filter((v) => v.gen > retiredBelow && v.records.length > 0);
    for (const pg of live) {
      for (const rec of pg.records) this.#apply(rec, pg.gen);
      this.#records += pg.records.length;
    }
    this.#pages = live.map(({ page, gen, end, cleanTail }) => ({ page, gen, end, cleanTail }));
    const toErase = [...dirty, ...valid.filter((v) => v.gen <= retiredBelow || v.records.length === 0).map((v) => v.page)];
    for (const p of toErase) {
      f.erase(p);
      erased.push(p);
    }
    this.#free = erased;
  }

  #allErased(base: number, from: number): boolean {
    for (let a = base + from; a < base + this.flash.pageSize; a += WORD_SIZE) {
      if (this.flash.readWord(a) !== 0xffffffff) return false;
    }
    return true;
  }

  #scanPage(p: number): { end: number; cleanTail: boolean; records: StoreOp[][] } {
    const f = this.flash;
    const base = p * f.pageSize;
    const records: StoreOp[][] = [];
    let off = PAGE_HEADER_BYTES;
    while (off + WORD_SIZE <= f.pageSize) {
      const w = f.readWord(base + off);
      if (w === 0xffffffff) return { end: off, cleanTail: this.#allErased(base, off), records };
      const len = w & 0xffff;
      if (w >>> 16 !== (~len & 0xffff) || len < ITEM_HEADER_BYTES) break;
      const total = RECORD_OVERHEAD + pad4(len);
      if (off + total > f.pageSize) break;
      const body = f.read(base + off, WORD_SIZE + pad4(len));
      if (crc32(body) !== f.readWord(base + off + total - WORD_SIZE)) break;
      const ops = parseItems(body, WORD_SIZE, WORD_SIZE + len);
      if (!ops) break;
      records.push(ops);
      off += total;
    }
    return { end: off, cleanTail: false, records };
  }

  #apply(ops: StoreOp[], gen: number): void {
    for (const { key, value } of ops) {
      const old = this.#index.get(key);
      if (old) this.#liveBytes -= ITEM_HEADER_BYTES + old.value.length;
      if (value === null) {
        this.#index.delete(key);
      } else {
        this.#index.set(key, { value, gen });
        this.#liveBytes += ITEM_HEADER_BYTES + value.length;
      }
      if (key === META_KEY && value) this.#retiredBelow = Math.max(this.#retiredBelow, readU32(value));
    }
  }

  get(key: number): Uint8Array | undefined {
    const e = this.#index.get(key);
    return e ? e.value.slice() : undefined;
  }

  has(key: number): boolean {
    return this.#index.has(key);
  }

  /** User keys present, ascending. */
  keys(): number[] {
    return [...this.#index.keys()].filter((k) => k !== META_KEY).sort((a, b) => a - b);
  }

  /** A snapshot of every user item (for model comparison in tests). */
  snapshot(): Map<number, Uint8Array> {
    const m = new Map<number, Uint8Array>();
    for (const k of this.keys()) m.set(k, this.#index.get(k)!.value.slice());
    return m;
  }

  set(key: number, value: Uint8Array): void {
    this.transaction([{ key, value }]);
  }

  delete(key: number): void {
    this.transaction([{ key, value: null }]);
  }

  /** Applies all `ops` atomically (one record). Throws PowerCut if the flash loses power mid-way. */
  transaction(ops: readonly StoreOp[]): void {
    if (ops.length === 0) return;
    const seen = new Set<number>();
    let delta = 0;
    for (const { key, value } of ops) {
      if (!Number.isInteger(key) || key < 1 || key > MAX_KEY) throw new SimError('INVALID_ARGUMENT', `store: key ${key} is outside 1..${MAX_KEY}`);
      if (seen.has(key)) throw new SimError('INVALID_ARGUMENT', `store: key ${key} appears twice in one transaction`);
      seen.add(key);
      if (value !== null && value.length >= DELETED) throw new SimError('INVALID_ARGUMENT', `store: value of key ${key} is too long`);
      const old = this.#index.get(key);
      delta += (value ? ITEM_HEADER_BYTES + value.length : 0) - (old ? ITEM_HEADER_BYTES + old.value.length : 0);
    }
    const record = encodeRecord(ops);
    if (record.length - RECORD_OVERHEAD > this.maxRecordBytes) {
      throw new SimError('STORE_FULL', `store: transaction of ${record.length} bytes exceeds the ${this.maxRecordBytes}-byte record limit`);
    }
    if (this.#liveBytes + delta > this.maxLiveBytes) {
      throw new SimError('STORE_FULL', `store: ${this.#liveBytes + delta} live bytes would exceed the capacity of ${this.maxLiveBytes}`);
    }
    this.#append(record, ops);
  }

  #append(record: Uint8Array, ops: readonly StoreOp[]): void {
    this.#ensureSpace(record.length);
    const head = this.#pages[this.#pages.length - 1]!;
    this.flash.write(head.page * this.flash.pageSize + head.end, record);
    head.end += record.length;
    this.#records++;
    this.#apply(ops.map((o) => ({ key: o.key, value: o.value ? o.value.slice() : null })), head.gen);
  }

  #headRoom(): number {
    const head = this.#pages[this.#pages.length - 1];
    return head && head.cleanTail ? this.flash.pageSize - head.end : 0;
  }

  #ensureSpace(bytes: number): void {
    while (this.#headRoom() < bytes) {
      if (this.#free.length <= 1 && this.#pages.length > 0) this.compact();
      else this.#openPage();
    }
  }

  /** Takes the least-worn erased page as the new head. */
  #openPage(): void {
    if (this.#free.length === 0) throw new SimError('STORE_CORRUPT', 'store: no erased page left');
    let best = 0;
    for (let i = 1; i < this.#free.length; i++) {
      if (this.flash.eraseCount(this.#free[i]!) < this.flash.eraseCount(this.#free[best]!)) best = i;
    }
    const page = this.#free.splice(best, 1)[0]!;
    const gen = this.#nextGen++;
    const header = flashWriter(PAGE_HEADER_BYTES).u32(PAGE_MAGIC).u32(gen).u32(headerCrc(gen)).done();
    // Once the header write starts the page is no longer erased; if it is cut, boot finds it dirty.
    this.#pages.push({ page, gen, end: PAGE_HEADER_BYTES, cleanTail: false });
    this.flash.write(page * this.flash.pageSize, header);
    this.#pages[this.#pages.length - 1]!.cleanTail = true;
  }

  /** Moves the live items of the oldest page to a fresh page and erases the old one. */
  compact(): void {
    const oldest = this.#pages[0];
    if (!oldest) return;
    const ops: StoreOp[] = [];
    for (const [key, e] of this.#index) {
      if (e.gen === oldest.gen && key !== META_KEY) ops.push({ key, value: e.value });
    }
    ops.push({ key: META_KEY, value: flashWriter(4).u32(oldest.gen).done() });
    this.#openPage();
    const record = encodeRecord(ops);
    const head = this.#pages[this.#pages.length - 1]!;
    this.flash.write(head.page * this.flash.pageSize + head.end, record);
    head.end += record.length;
    this.#records++;
    this.#apply(ops, head.gen);
    this.#pages.shift();
    this.flash.erase(oldest.page);
    this.#free.push(oldest.page);
    this.#compactions++;
  }

  stats(): StoreStats {
    return {
      liveBytes: this.#liveBytes,
      maxLiveBytes: this.maxLiveBytes,
      usedPages: this.#pages.length,
      freePages: this.#free.length,
      compactions: this.#compactions,
      records: this.#records,
    };
  }
}

/** Flash layouts are little-endian (docs/flash-format.md). Only the store's own values go through these. */
function flashWriter(capacity: number): ByteWriter {
  return new ByteWriter({ endian: 'little', what: 'store', capacity });
}

function headerCrc(gen: number): number {
  return crc32(flashWriter(8).u32(PAGE_MAGIC).u32(gen).done());
}

/** The retired generation in a META value; -1 for a value that is not one u32 (ignored, as before). */
function readU32(b: Uint8Array): number {
  return b.length === 4 ? new ByteReader(b, { endian: 'little', what: 'store meta' }).u32() : -1;
}

/** Encodes a record: length word, items, 0xFF padding, CRC word (docs/flash-format.md §2.3). */
export function encodeRecord(ops: readonly StoreOp[]): Uint8Array {
  let len = 0;
  for (const o of ops) len += ITEM_HEADER_BYTES + (o.value ? o.value.length : 0);
  if (len >= DELETED) throw new SimError('STORE_FULL', 'store: record too long');
  const w = flashWriter(RECORD_OVERHEAD + pad4(len)).u16(len).u16(~len & 0xffff);
  for (const o of ops) {
    w.u16(o.key).u16(o.value ? o.value.length : DELETED);
    if (o.value) w.bytes(o.value);
  }
  w.padTo(WORD_SIZE + pad4(len), 0xff);
  return w.u32(crc32(w.done())).done();
}

/** Parses the items of a record body; undefined if they do not exactly fill [start, end). */
function parseItems(body: Uint8Array, start: number, end: number): StoreOp[] | undefined {
  const r = new ByteReader(body.subarray(start, end), { endian: 'little', what: 'store record' });
  const ops: StoreOp[] = [];
  while (r.remaining > 0) {
    if (r.remaining < ITEM_HEADER_BYTES) return undefined;
    const key = r.u16();
    const len = r.u16();
    if (len === DELETED) {
      ops.push({ key, value: null });
      continue;
    }
    if (len > r.remaining) return undefined;
    ops.push({ key, value: r.bytes(len) });
  }
  return ops;
}
