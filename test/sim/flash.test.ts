import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPowerCut } from '../../firmware-sim/errors.ts';
import { IMAGE_HEADER, RamFlash } from '../../firmware-sim/flash.ts';
import { loadFlashImage, saveFlashImage } from '../../firmware-sim/host/files.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';

const geo = { pageSize: 256, pageCount: 4, maxWritesPerWord: 2 };
const dir = mkdtempSync(join(tmpdir(), 'tf-flash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('RAM NOR flash model', () => {
  it('starts erased and programs only 1->0', () => {
    const f = new RamFlash(geo);
    expect(f.readWord(0)).toBe(0xffffffff);
    f.write(0, new Uint8Array([0x0f, 0xff, 0xff, 0xff]));
    expect(f.read(0, 1)[0]).toBe(0x0f);
    // clearing more bits is fine (second write to the word)
    f.write(0, new Uint8Array([0x0e, 0xff, 0xff, 0xff]));
    expect(f.read(0, 1)[0]).toBe(0x0e);
  });

  it('refuses 0->1 writes and leaves the flash unchanged', () => {
    const f = new RamFlash(geo);
    f.write(8, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]));
    expect(() => f.write(4, new Uint8Array([0, 0, 0, 0, 1, 0, 0, 0]))).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
    expect(f.readWord(4)).toBe(0xffffffff);
  });

  it('bounds the number of writes per word until an erase', () => {
    const f = new RamFlash(geo);
    const w = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
    f.write(0, w);
    f.write(0, w);
    expect(() => f.write(0, w)).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
    f.erase(0);
    f.write(0, w);
    expect(f.eraseCount(0)).toBe(1);
    expect(f.eraseCount(1)).toBe(0);
  });

  it('refuses unaligned and out-of-range access', () => {
    const f = new RamFlash(geo);
    expect(() => f.write(2, new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
    expect(() => f.write(0, new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
    expect(() => f.write(1024, new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
    expect(() => f.erase(4)).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
    expect(() => f.read(1020, 8)).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
    expect(() => new RamFlash({ pageSize: 100, pageCount: 4, maxWritesPerWord: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('power cut at the Nth word: clean cut writes nothing of that word, torn cut clears a subset of bits', () => {
    const rng = new SeededRng(7);
    for (let trial = 0; trial < 200; trial++) {
      const f = new RamFlash(geo);
      const data = new Uint8Array(16);
      rng.fill(data);
      const torn = trial % 2 === 0;
      f.armPowerCut({ afterOps: 2, torn, rng });
      let cut = false;
      try {
        f.write(0, data);
      } catch (e) {
        cut = isPowerCut(e);
      }
      expect(cut).toBe(true);
      expect([...f.read(0, 8)]).toEqual([...data.subarray(0, 8)]);
      expect(f.readWord(12)).toBe(0xffffffff);
      const w = f.readWord(8);
      const want = new DataView(data.buffer).getUint32(8, true);
      if (!torn) expect(w).toBe(0xffffffff);
      // whatever was programmed is a superset of the target's 1 bits
      expect((want & ~w) >>> 0).toBe(0);
    }
  });

  it('torn erase leaves a mix of erased and old words; clean cut leaves the page as it was', () => {
    const rng = new SeededRng(3);
    const f = new RamFlash(geo);
    f.write(0, new Uint8Array(256));
    f.armPowerCut({ afterOps: 0, torn: false, rng });
    expect(() => f.erase(0)).toThrow(expect.objectContaining({ code: 'POWER_CUT' }));
    expect(f.read(0, 256).every((b) => b === 0)).toBe(true);
    f.armPowerCut({ afterOps: 0, torn: true, rng });
    expect(() => f.erase(0)).toThrow(expect.objectContaining({ code: 'POWER_CUT' }));
    const words = Array.from({ length: 64 }, (_, i) => f.readWord(i * 4));
    expect(words.some((w) => w === 0)).toBe(true);
    expect(words.some((w) => w === 0xffffffff)).toBe(true);
    expect(f.eraseCount(0)).toBe(0);
  });

  it('round-trips through an image file with erase and write counts', () => {
    const f = new RamFlash(geo);
    f.erase(2);
    f.erase(2);
    f.write(512, new Uint8Array([1, 2, 3, 4]));
    const path = join(dir, 'flash.img');
    saveFlashImage(f, path);
    const g = loadFlashImage(path);
    expect(g.eraseCount(2)).toBe(2);
    expect([...g.read(512, 4)]).toEqual([1, 2, 3, 4]);
    expect([...g.toImage()]).toEqual([...f.toImage()]);
    g.write(512, new Uint8Array([0, 0, 0, 0]));
    expect(() => g.write(512, new Uint8Array([0, 0, 0, 0]))).toThrow(expect.objectContaining({ code: 'FLASH_VIOLATION' }));
  });
});

describe('flash image parser: malformed input', () => {
  const good = new RamFlash(geo).toImage();
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['short header', good.slice(0, 10)],
    ['bad magic', (() => { const b = good.slice(); b[0] = 0x58; return b; })()],
    ['truncated', good.slice(0, good.length - 1)],
    ['trailing byte', (() => { const b = new Uint8Array(good.length + 1); b.set(good); return b; })()],
    ['bad page size', (() => { const b = good.slice(); new DataView(b.buffer).setUint32(8, 100, true); return b; })()],
    ['huge page count', (() => { const b = good.slice(); new DataView(b.buffer).setUint32(12, 0xffffffff, true); return b; })()],
    ['zero writes per word', (() => { const b = good.slice(); new DataView(b.buffer).setUint32(16, 0, true); return b; })()],
    ['write count over limit', (() => { const b = good.slice(); b[IMAGE_HEADER + 16] = 9; return b; })()],
  ];
  for (const [name, bytes] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => RamFlash.fromImage(bytes)).toThrow(expect.objectContaining({ code: 'FLASH_IMAGE' }));
    });
  }
  it('reports a missing file as IO', () => {
    expect(() => loadFlashImage(join(dir, 'nope.img'))).toThrow(expect.objectContaining({ code: 'IO' }));
    writeFileSync(join(dir, 'junk.img'), 'hello');
    expect(() => loadFlashImage(join(dir, 'junk.img'))).toThrow(expect.objectContaining({ code: 'FLASH_IMAGE' }));
  });
});
