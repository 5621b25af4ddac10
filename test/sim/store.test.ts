import { describe, expect, it } from 'vitest';
import { crc32 } from '../../protocol/crc32.ts';
import { RamFlash } from '../../firmware-sim/flash.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { encodeRecord, KvStore, PAGE_HEADER_BYTES } from '../../firmware-sim/store.ts';

const geo = { pageSize: 512, pageCount: 4, maxWritesPerWord: 2 };
const te = (s: string) => new TextEncoder().encode(s);
const td = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

describe('flash key-value store', () => {
  it('stores, overwrites and deletes, and survives a reboot', () => {
    const flash = new RamFlash(geo);
    const kv = KvStore.open(flash);
    kv.set(1, te('one'));
    kv.set(2, te('two'));
    kv.set(1, te('uno'));
    kv.delete(2);
    const again = KvStore.open(flash);
    expect(td(again.get(1))).toBe('uno');
    expect(again.get(2)).toBeUndefined();
    expect(again.keys()).toEqual([1]);
  });

  it('applies a multi-key transaction atomically', () => {
    const flash = new RamFlash(geo);
    const kv = KvStore.open(flash);
    kv.transaction([
      { key: 5, value: te('a') },
      { key: 6, value: te('b') },
    ]);
    expect(KvStore.open(flash).snapshot().size).toBe(2);
  });

  it('compacts when pages fill, keeping the latest values, and levels wear', () => {
    const flash = new RamFlash(geo);
    let kv = KvStore.open(flash);
    const model = new Map<number, string>();
    const rng = new SeededRng(1);
    for (let i = 0; i < 3000; i++) {
      const key = 1 + rng.int(8);
      if (rng.float() < 0.1) {
        kv.delete(key);
        model.delete(key);
      } else {
        const v = `v${i}`;
        kv.set(key, te(v));
        model.set(key, v);
      }
      if (i % 500 === 0) kv = KvStore.open(flash);
    }
    expect(kv.stats().compactions).toBeGreaterThan(10);
    const rebooted = KvStore.open(flash);
    expect(new Map([...rebooted.snapshot()].map(([k, v]) => [k, td(v)]))).toEqual(model);
    const counts = Array.from({ length: geo.pageCount }, (_, p) => flash.eraseCount(p));
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
  });

  it('rejects bad keys, duplicate keys and oversize data with codes', () => {
    const kv = KvStore.open(new RamFlash(geo));
    expect(() => kv.set(0, te('x'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => kv.set(0x10000, te('x'))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => kv.transaction([{ key: 1, value: te('a') }, { key: 1, value: null }])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => kv.set(1, new Uint8Array(kv.maxRecordBytes))).toThrow(expect.objectContaining({ code: 'STORE_FULL' }));
    kv.set(1, new Uint8Array(150));
    expect(() => kv.set(2, new Uint8Array(150))).toThrow(expect.objectContaining({ code: 'STORE_FULL' }));
    expect(kv.get(2)).toBeUndefined();
  });
});

describe('store boot: malformed flash contents', () => {
  function withRecord(mutate: (flash: RamFlash, recordAt: number, record: Uint8Array) => void): KvStore {
    const flash = new RamFlash(geo);
    const kv = KvStore.open(flash);
    kv.set(1, te('keep'));
    const rec = encodeRecord([{ key: 2, value: te('second') }]);
    // Find the head page and its end: the record just after the first one.
    let page = 0;
    for (let p = 0; p < geo.pageCount; p++) if (flash.readWord(p * geo.pageSize) !== 0xffffffff) page = p;
    const first = encodeRecord([{ key: 1, value: te('keep') }]);
    const at = page * geo.pageSize + PAGE_HEADER_BYTES + first.length;
    mutate(flash, at, rec);
    return KvStore.open(flash);
  }

  it('ignores a record with a bad CRC and everything after it', () => {
    const kv = withRecord((f, at, rec) => {
      rec[rec.length - 1] = rec[rec.length - 1]! & 0x7f ^ 0x01;
      f.write(at, rec);
    });
    expect(kv.keys()).toEqual([1]);
    kv.set(3, te('after'));
    expect(KvStore.open(kv.flash).keys()).toEqual([1, 3]);
  });

  it('ignores a record with a torn length word', () => {
    const kv = withRecord((f, at) => f.write(at, new Uint8Array([0x0c, 0xff, 0xf0, 0xff])));
    expect(kv.keys()).toEqual([1]);
  });

  it('ignores a record whose length runs past the page', () => {
    const kv = withRecord((f, at) => f.write(at, new Uint8Array([0xf0, 0x0f, 0x0f, 0xf0])));
    expect(kv.keys()).toEqual([1]);
  });

  it('ignores a record whose items do not fill it exactly', () => {
    const kv = withRecord((f, at) => {
      // length 6: one item header (4) + 2 stray bytes claiming a 9-byte value
      const body = new Uint8Array([6, 0, 0xf9, 0xff, 2, 0, 9, 0, 0x41, 0x42, 0xff, 0xff]);
      // a correct CRC, so that only the item structure is wrong
      const full = new Uint8Array(16);
      full.set(body);
      new DataView(full.buffer).setUint32(12, crc32(full.subarray(0, 12)), true);
      f.write(at, full);
    });
    expect(kv.keys()).toEqual([1]);
  });

  it('erases a page with a garbage header at boot', () => {
    const flash = new RamFlash(geo);
    KvStore.open(flash).set(1, te('x'));
    flash.write(3 * geo.pageSize + 100, new Uint8Array([1, 2, 3, 4]));
    const kv = KvStore.open(flash);
    expect(kv.keys()).toEqual([1]);
    expect(flash.readWord(3 * geo.pageSize + 100)).toBe(0xffffffff);
  });
});

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(te('123456789'))).toBe(0xcbf43926);
  });
});
