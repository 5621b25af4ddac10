/**
 * Exports (PSKC, pam_oath, CSV): round trips through our own sources, file safety (mode 0600 whatever the
 * umask, no clobbering, no temp files left, nothing written when a record is refused), option checks, and
 * the `tokenforge pskc convert` command end to end.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { otpDigits } from '../../otp/otp-params.ts';
import { Secret } from '../../otp/secret.ts';
import { exportSeeds, renderExport } from '../../provisioner/exports/index.ts';
import type { SeedRecord } from '../../provisioner/seed.ts';
import { csvToSeeds, generateSeeds, loadSeeds, nodeRng } from '../../provisioner/sources/index.ts';
import { pskcToSeeds } from '../../provisioner/sources/pskc/parse.ts';
import { hex, tempDir, tokenforge, VECTORS } from './pskc.helpers.ts';

const tmp = tempDir('tf-exports-');
afterAll(() => tmp.cleanup());

const mixed = (): SeedRecord[] => [
  ...generateSeeds(2, { serialPrefix: 'H', serialStart: 1, counter: 3n, label: 'lab, "bench" 1' }, nodeRng),
  ...generateSeeds(1, { type: 'totp', algorithm: 'SHA512', digits: 8, periodSec: 60, t0: 30n, serialPrefix: 'T', serialStart: 1 }, nodeRng),
  ...generateSeeds(1, { type: 'ocra', ocraSuite: 'OCRA-1:HOTP-SHA256-8:C-QN08', serialPrefix: 'O', serialStart: 1 }, nodeRng),
];
const key = (rs: SeedRecord[]): unknown[] => rs.map((r) => [r.serial, hex(r.secret.exposeSecretBytes()), r.otp, r.label ?? null]);

describe('round trips', () => {
  it('CSV export loads back unchanged', () => {
    const rs = mixed();
    expect(key(csvToSeeds(renderExport(rs, { format: 'csv' })))).toEqual(key(rs));
  });
  it('PSKC export (PSK and password) loads back unchanged, with XML-special characters escaped', () => {
    const rs = mixed();
    rs[0]!.issuer = 'A & B <c> "d"';
    rs[0]!.user = "o'neil";
    const viaPsk = pskcToSeeds(renderExport(rs, { format: 'pskc', psk: '000102030405060708090a0b0c0d0e0f1011121314151617' }), { psk: '000102030405060708090a0b0c0d0e0f1011121314151617' });
    expect(key(viaPsk)).toEqual(key(rs));
    expect(viaPsk[0]).toMatchObject({ issuer: 'A & B <c> "d"', user: "o'neil" });
    const xml = renderExport(rs, { format: 'pskc', password: 'pw', iterations: 1000 });
    expect(xml).toContain('xmlenc#aes128-cbc');
    expect(key(pskcToSeeds(xml, { password: 'pw' }))).toEqual(key(rs));
  });
  it('each PSKC export uses fresh IVs and MAC key (no two ciphertexts alike)', () => {
    const rs = mixed();
    const a = renderExport(rs, { format: 'pskc', psk: '000102030405060708090a0b0c0d0e0f' });
    const b = renderExport(rs, { format: 'pskc', psk: '000102030405060708090a0b0c0d0e0f' });
    const cvs = (x: string): string[] => [...x.matchAll(/<xenc:CipherValue>([^<]+)</g)].map((m) => m[1]!);
    expect(new Set([...cvs(a), ...cvs(b)]).size).toBe(cvs(a).length * 2);
  });
});

describe('option checks', () => {
  it.each([
    [{}, /exactly one of/],
    [{ psk: '00112233445566778899aabbccddeeff', password: 'x' }, /exactly one of/],
    [{ psk: '0011' }, /16, 24 or 32 bytes/],
    [{ psk: 'xyz' }, /must be hex/],
    [{ password: '' }, /must not be empty/],
  ])('PSKC %o', (opts, message) => {
    expect(() => renderExport(mixed(), { format: 'pskc', ...opts })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }));
  });
  it('an unknown format', () => {
    expect(() => renderExport(mixed(), { format: 'xml' as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
  it('an invalid record is refused before anything is written', async () => {
    const rs = mixed();
    rs.push({ serial: 'bad serial\n', secret: new Secret(new Uint8Array(20)), otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } });
    const file = join(tmp.dir, 'never.csv');
    await expect(exportSeeds(rs, { format: 'csv', file })).rejects.toMatchObject({ code: 'INVALID_SEED' });
    expect(() => statSync(file)).toThrow();
  });
});

describe('files', () => {
  it('mode 0600 even with a permissive umask; no clobbering; no temp files left', async () => {
    const old = process.umask(0);
    try {
      const file = join(tmp.dir, 'seeds.csv');
      await exportSeeds(mixed(), { format: 'csv', file });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      writeFileSync(join(tmp.dir, 'existing.xml'), 'keep me');
      await expect(exportSeeds(mixed(), { format: 'pskc', file: join(tmp.dir, 'existing.xml'), allowPlain: true })).rejects.toMatchObject({ code: 'IO_ERROR', message: expect.stringMatching(/already exists/) });
      expect(readFileSync(join(tmp.dir, 'existing.xml'), 'utf8')).toBe('keep me');
      await exportSeeds(mixed(), { format: 'pskc', file: join(tmp.dir, 'existing.xml'), allowPlain: true, overwrite: true });
      expect(statSync(join(tmp.dir, 'existing.xml')).mode & 0o777).toBe(0o600);
      expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      await expect(exportSeeds(mixed(), { format: 'csv', file: join(tmp.dir, 'no/such/dir.csv') })).rejects.toMatchObject({ code: 'IO_ERROR' });
    } finally {
      process.umask(old);
    }
  });
});

describe('tokenforge pskc convert', () => {
  it('vendor PSKC (PSK) -> encrypted PSKC -> pam_oath users file, each 0600', async () => {
    const fig6 = join(VECTORS, 'rfc6030-figure6-aes128cbc-preshared-hmacsha1.xml');
    const out = join(tmp.dir, 'reexport.pskc');
    const r = await tokenforge(['pskc', 'convert', fig6, out, '--psk', '12345678901234567890123456789012', '--format', 'pskc', '--export-psk', 'ffeeddccbbaa99887766554433221100']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote 1 seed\(s\) as pskc \(mode 0600\)/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const seeds = await loadSeeds({ kind: 'pskc', file: out, psk: 'ffeeddccbbaa99887766554433221100' });
    expect(seeds.map((s) => [s.serial, hex(s.secret.exposeSecretBytes()), otpDigits(s.otp)])).toEqual([['987654321', '3132333435363738393031323334353637383930', 8]]);
    const users = join(tmp.dir, 'users.oath');
    const r2 = await tokenforge(['pskc', 'convert', out, users, '--psk', 'ffeeddccbbaa99887766554433221100', '--format', 'pam-oath']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(readFileSync(users, 'utf8')).toContain('HOTP/E/8\t987654321\t-\t3132333435363738393031323334353637383930\t0');
    const again = await tokenforge(['pskc', 'convert', out, users, '--psk', 'ffeeddccbbaa99887766554433221100', '--format', 'pam-oath']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^tokenforge: error: .*already exists; choose another name or pass --overwrite\n$/);
  });
  it('--help says the output is written 0600', async () => {
    const r = await tokenforge(['pskc', 'convert', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/mode 0600/);
  });
});
