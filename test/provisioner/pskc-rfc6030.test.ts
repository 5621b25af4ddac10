/**
 * RFC 6030 figures (conformance/vectors/pskc, copied from the reference set with EXPECTED.json): every figure
 * gives the expected secrets and parameters; Figure 8 (RSA, private key unpublished) fails with a clear
 * "needs the private key" error; RSA itself is tested on files we encrypt ourselves (RSA-1_5 and RSA-OAEP).
 */
import { constants, createHash, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { otpDigits } from '../../otp/otp-params.ts';
import { ProvisionerError } from '../../provisioner/seed.ts';
import { decryptPskc, parsePskc, pskcToSeeds } from '../../provisioner/sources/pskc/parse.ts';
import { loadSeeds } from '../../provisioner/sources/index.ts';
import { hex, tempDir, tokenforge, VECTORS } from './pskc.helpers.ts';

interface ExpectedKey {
  id: string;
  algorithm: string;
  secret_hex?: string;
  secret_b64?: string;
  secret?: null;
  counter?: number | null;
  serial_no?: string;
  response_format?: { length: number; encoding: string };
}
interface ExpectedFile {
  sha256: string;
  keys?: ExpectedKey[];
  preshared_key_hex?: string;
  password?: string;
  expected_secret_hex?: string;
  device?: { serial_no: string };
}
const EXPECTED = JSON.parse(readFileSync(join(VECTORS, 'EXPECTED.json'), 'utf8')) as { files: Record<string, ExpectedFile> };
const read = (f: string): string => readFileSync(join(VECTORS, f), 'utf8');
const tmp = tempDir('tf-pskc-rfc-');
afterAll(() => tmp.cleanup());

function keyMaterial(e: ExpectedFile): { psk?: string; password?: string } {
  return { ...(e.preshared_key_hex ? { psk: e.preshared_key_hex } : {}), ...(e.password ? { password: e.password } : {}) };
}

describe('RFC 6030 figures give the expected secrets (EXPECTED.json)', () => {
  const files = Object.keys(EXPECTED.files).filter((f) => !f.includes('figure8'));
  it('the vector files are the ones EXPECTED.json describes (sha256)', () => {
    for (const [f, e] of Object.entries(EXPECTED.files)) {
      expect(createHash('sha256').update(readFileSync(join(VECTORS, f))).digest('hex'), f).toBe(e.sha256);
    }
  });
  it.each(files)('%s', (f) => {
    const e = EXPECTED.files[f]!;
    const keys = decryptPskc(parsePskc(read(f)), keyMaterial(e));
    if (!e.keys) {
      // Figures 6-style entries without a key list describe one key by expected_secret_hex (Figure 7).
      expect(keys.map((k) => hex(k.secret!.exposeSecretBytes()))).toEqual([e.expected_secret_hex]);
      return;
    }
    const expectedKeys = e.keys;
    expect(keys.map((k) => k.keyId)).toEqual(expectedKeys.map((k) => k.id));
    expectedKeys.forEach((x, i) => {
      const k = keys[i]!;
      expect(k.algorithm).toBe(x.algorithm);
      const secretHex = x.secret_hex ?? (x.secret_b64 ? Buffer.from(x.secret_b64, 'base64').toString('hex') : x.secret === null ? null : e.expected_secret_hex);
      if (secretHex === null || secretHex === undefined) expect(k.secret).toBeUndefined();
      else expect(hex(k.secret!.exposeSecretBytes())).toBe(secretHex);
      if (x.counter !== undefined) expect(k.counter).toBe(x.counter === null ? undefined : BigInt(x.counter));
      if (x.response_format) expect(k.responseLength).toBe(x.response_format.length);
      if (x.serial_no) expect(k.serial).toBe(x.serial_no);
    });
    if (e.device) expect(keys[0]!.serial).toBe(e.device.serial_no);
  });

  it('seed records: PIN keys skipped, the Key Id stands in for a missing serial', () => {
    const fig5 = pskcToSeeds(read('rfc6030-figure5-pin-policy.xml'));
    expect(fig5.map((r) => [r.serial, r.otp])).toEqual([['987654321', { type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 0n }]]);
    const fig2 = pskcToSeeds(read('rfc6030-figure2-basic-plain.xml'));
    expect(fig2.map((r) => [r.serial, r.keyId, hex(r.secret.exposeSecretBytes()), otpDigits(r.otp)])).toEqual([['12345678', '12345678', '31323334', 6]]);
    const fig10 = pskcToSeeds(read('rfc6030-figure10-bulk.xml'));
    expect(fig10.map((r) => r.serial)).toEqual(['654321', '123456', '9999999', '9999999']);
  });

  it('Figure 4 (secret derived out of band) is a clear "no secret" error', () => {
    const err = (() => {
      try {
        pskcToSeeds(read('rfc6030-figure4-key-derivation-reference.xml'));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProvisionerError);
    expect((err as ProvisionerError).code).toBe('INVALID_NO_SECRET');
    expect((err as Error).message).toMatch(/no secret present/);
  });

  it('Figure 8 without the private key: "needs the private key" (library and CLI)', async () => {
    const f = join(VECTORS, 'rfc6030-figure8-asymmetric-rsa.xml');
    await expect(loadSeeds({ kind: 'pskc', file: f })).rejects.toMatchObject({ code: 'INVALID_NEEDS_KEY', message: expect.stringMatching(/needs the private key/) });
    const r2 = await tokenforge(['pskc', 'inspect', f, '--psk', '12345678901234567890123456789012']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^tokenforge: error: .*needs the private key.*--private-key/);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
    // Parsing without any key works: the structure is listed, the secret shown as encrypted.
    const r3 = await tokenforge(['pskc', 'inspect', f, '--json']);
    expect(r3.code).toBe(0);
    expect(JSON.parse(r3.stdout).keys[0]).toMatchObject({ keyId: 'MBK000000001', serial: '987654321', digits: 6, counter: '0', secret: 'encrypted' });
  });

  it('CLI inspect prints the Figure 6 and 7 secrets only with --show-secrets', async () => {
    const f6 = join(VECTORS, 'rfc6030-figure6-aes128cbc-preshared-hmacsha1.xml');
    const plain = await tokenforge(['pskc', 'inspect', f6, '--psk', '12345678901234567890123456789012']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('3132333435363738393031323334353637383930');
    expect(plain.stdout).toMatch(/12345678\s+987654321\s+hotp\s+8\s+0/);
    const shown = await tokenforge(['pskc', 'inspect', join(VECTORS, 'rfc6030-figure7-pbkdf2.xml'), '--password', 'qwerty', '--json', '--show-secrets']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout).keys[0]).toMatchObject({ keyId: '123456', serial: '987654321', secretHex: '3132333435363738393031323334353637383930' });
  });
});

describe('RSA key transport on files we encrypt ourselves (RFC 6030 Section 6.3)', () => {
  // 1024-bit keys keep the test fast; the code path does not depend on the modulus size.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const secret = Buffer.from('00112233445566778899aabbccddeeff01020304', 'hex');
  const fig8 = read('rfc6030-figure8-asymmetric-rsa.xml');
  const withCipher = (algorithm: string, cipher: Buffer, extra = ''): string =>
    fig8
      .replace(/Algorithm="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#rsa_1_5"\/>/, `Algorithm="${algorithm}">${extra}</xenc:EncryptionMethod>`)
      .replace(/<xenc:CipherValue>[^<]*<\/xenc:CipherValue>/, `<xenc:CipherValue>${cipher.toString('base64')}</xenc:CipherValue>`);
  // Raw RSA with our own PKCS#1 v1.5 type-2 padding: Node 20 no longer offers it for encryption either way round.
  const pkcs1 = (m: Buffer): Buffer => {
    const k = 128;
    const ps = Buffer.alloc(k - 3 - m.length, 0x5a);
    return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.from([0, 2]), ps, Buffer.from([0]), m]));
  };

  it.each([
    ['rsa-1_5 (XML Encryption URI)', 'http://www.w3.org/2001/04/xmlenc#rsa-1_5', () => pkcs1(secret), ''],
    ['rsa_1_5 (spelling used in RFC 6030 Figure 8)', 'http://www.w3.org/2001/04/xmlenc#rsa_1_5', () => pkcs1(secret), ''],
    ['rsa-oaep-mgf1p', 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', () => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, secret), ''],
    [
      'xmlenc11 rsa-oaep with SHA-256 digest',
      'http://www.w3.org/2009/xmlenc11#rsa-oaep',
      () => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret),
      '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>',
    ],
  ])('%s decrypts with the private key', async (name, uri, enc, extra) => {
    const xml = withCipher(uri, enc(), extra);
    const seeds = pskcToSeeds(xml, { privateKey: pem });
    expect(seeds.map((s) => [s.serial, hex(s.secret.exposeSecretBytes()), otpDigits(s.otp)])).toEqual([['987654321', secret.toString('hex'), 6]]);
    if (!name.startsWith('rsa-1_5')) return; // one CLI run is enough to prove --private-key is wired
    const file = join(tmp.dir, 'rsa.xml');
    const keyFile = join(tmp.dir, 'rsa.pem');
    writeFileSync(file, xml);
    writeFileSync(keyFile, pem, { mode: 0o600 });
    const r = await tokenforge(['pskc', 'inspect', file, '--private-key', keyFile, '--show-secrets', '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).keys[0].secretHex).toBe(secret.toString('hex'));
  });

  it('the wrong private key is a clear decryption error', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const xml = withCipher('http://www.w3.org/2001/04/xmlenc#rsa-1_5', pkcs1(secret));
    expect(() => pskcToSeeds(xml, { privateKey: other })).toThrow(expect.objectContaining({ code: 'INVALID_DECRYPTION', message: expect.stringMatching(/private key that matches/) }));
    const xml2 = withCipher('http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, secret));
    expect(() => pskcToSeeds(xml2, { privateKey: other })).toThrow(expect.objectContaining({ code: 'INVALID_DECRYPTION' }));
  });
});
