import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfileDir } from '../../firmware-sim/host/profile-files.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { drawUnit, formatSerial, loadProfile, luhnDigit, parseProfile, profileNames, slotCount, slotGroup } from '../../firmware-sim/profiles.ts';

describe('device profiles (data files)', () => {
  it('ships the three required profiles with their shapes', () => {
    expect(profileNames()).toEqual(expect.arrayContaining(['totp-60s-fob', 'hotp-fob', 'multi-slot-key']));
    const fob = loadProfile('totp-60s-fob');
    expect(slotCount(fob)).toBe(1);
    expect(fob.slots[0]).toMatchObject({ types: ['totp'], defaults: { algorithm: 'SHA1', digits: 6, periodSec: 60 } });
    expect(fob.rtc!.crystalPpm).toEqual({ min: -20, max: 20 });
    expect(slotCount(loadProfile('hotp-fob'))).toBe(1);
    const key = loadProfile('multi-slot-key');
    expect(slotCount(key)).toBe(18);
    expect(key.rtc).toBeNull();
    expect(slotGroup(key, 2)!.types).toContain('hotp');
    expect(slotGroup(key, 3)!.types).toEqual(['totp']);
    expect(slotGroup(key, 18)).toBeUndefined();
  });

  it('draws crystal errors within ±20 ppm for the TOTP fob', () => {
    const p = loadProfile('totp-60s-fob');
    const rng = new SeededRng(1);
    const draws = Array.from({ length: 5000 }, () => drawUnit(p, rng).crystalPpm);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(-20);
    expect(Math.max(...draws)).toBeLessThanOrEqual(20);
    expect(Math.min(...draws)).toBeLessThan(-19);
    expect(Math.max(...draws)).toBeGreaterThan(19);
  });

  it('formats serial numbers with sequence, random digits and a Luhn check digit', () => {
    const rng = new SeededRng(2);
    // Luhn over the digits 600000042: 4+4+0+0+0+0+0+0+3 = 11 -> check digit 9
    expect(formatSerial('F6{seq:8}{luhn}', 42, rng)).toBe('F6000000429');
    expect(luhnDigit('7992739871')).toBe('3'); // the classic Luhn example
    expect(formatSerial('K{seq:7}', 1234567, rng)).toBe('K1234567');
    expect(formatSerial('AB-{rand:4}', 0, rng)).toMatch(/^AB-\d{4}$/);
    expect(() => formatSerial('K{seq:2}', 123, rng)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('profile parser: malformed input', () => {
  const good = JSON.parse(JSON.stringify(loadProfile('hotp-fob'))) as Record<string, unknown>;
  const mutate = (f: (p: Record<string, unknown>) => void) => {
    const p = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    f(p);
    return p;
  };
  const cases: [string, unknown][] = [
    ['not an object', 'hotp'],
    ['array', []],
    ['unknown field', mutate((p) => (p['extra'] = 1))],
    ['missing field', mutate((p) => delete p['model'])],
    ['bad name', mutate((p) => (p['name'] = 'Bad Name'))],
    ['no slots', mutate((p) => (p['slots'] = []))],
    ['bad slot type', mutate((p) => (p['slots'] = [{ count: 1, types: ['yubi'], defaults: { algorithm: 'SHA1', digits: 6 } }]))],
    ['too many slots', mutate((p) => (p['slots'] = [{ count: 200, types: ['hotp'], defaults: { algorithm: 'SHA1', digits: 6 } }, { count: 100, types: ['totp'], defaults: { algorithm: 'SHA1', digits: 6 } }]))],
    ['digits 5', mutate((p) => (p['slots'] = [{ count: 1, types: ['hotp'], defaults: { algorithm: 'SHA1', digits: 5 } }]))],
    ['bad algorithm', mutate((p) => (p['slots'] = [{ count: 1, types: ['hotp'], defaults: { algorithm: 'MD5', digits: 6 } }]))],
    ['ppm range reversed', mutate((p) => (p['rtc'] = { crystalPpm: { min: 20, max: -20 }, agingPpmPerYear: { min: 0, max: 0 }, tempCoeffPpmPerC2: 0 }))],
    ['ppm not a number', mutate((p) => (p['rtc'] = { crystalPpm: { min: '-20', max: 20 }, agingPpmPerYear: { min: 0, max: 0 }, tempCoeffPpmPerC2: 0 }))],
    ['serial format without a number', mutate((p) => (p['serialFormat'] = 'ABC'))],
    ['serial format with braces', mutate((p) => (p['serialFormat'] = 'A{seq:x}'))],
    ['flash page too small', mutate((p) => (p['flash'] = { pageSize: 16, pageCount: 8, maxWritesPerWord: 2 }))],
    ['button not boolean', mutate((p) => (p['button'] = 'yes'))],
    ['retries 0', mutate((p) => (p['pin'] = { maxRetries: 0 }))],
  ];
  for (const [name, json] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => parseProfile(json, 'test.json')).toThrow(expect.objectContaining({ code: 'INVALID_PROFILE' }));
    });
  }
  it('accepts the shipped profile and rejects an unknown name', () => {
    expect(parseProfile(good, 'hotp-fob.json').name).toBe('hotp-fob');
    expect(() => loadProfile('no-such')).toThrow(expect.objectContaining({ code: 'INVALID_PROFILE' }));
  });
});

describe('built-in profiles and profile files', () => {
  it('lists exactly the files of firmware-sim/profiles/, parsed the same way', () => {
    const fromDisk = loadProfileDir(resolve(import.meta.dirname, '../..', 'firmware-sim', 'profiles'));
    expect(fromDisk.map((p) => p.name)).toEqual(profileNames());
    for (const p of fromDisk) expect(loadProfile(p.name)).toEqual(p);
  });

  it('rejects a profile file that is not JSON or whose name is not its file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tf-profiles-'));
    try {
      writeFileSync(join(dir, 'broken.json'), '{');
      expect(() => loadProfileDir(dir)).toThrow(expect.objectContaining({ code: 'INVALID_PROFILE' }));
      rmSync(join(dir, 'broken.json'));
      writeFileSync(join(dir, 'other-name.json'), JSON.stringify(loadProfile('hotp-fob')));
      expect(() => loadProfileDir(dir)).toThrow(expect.objectContaining({ code: 'INVALID_PROFILE' }));
      expect(() => loadProfileDir(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'IO' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
