/**
 * `pskc doctor`: vendor-style broken files give the expected findings (asserted by code and severity), a
 * clean export gives none, and the CLI exits 1 exactly when there is an error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderExport } from '../../provisioner/exports/index.ts';
import { generateSeeds, nodeRng } from '../../provisioner/sources/index.ts';
import { diagnosePskc, type Finding } from '../../provisioner/sources/pskc/doctor.ts';
import { tempDir, tokenforge, VECTORS } from './pskc.helpers.ts';

const tmp = tempDir('tf-doctor-');
afterAll(() => tmp.cleanup());
const read = (f: string): string => readFileSync(join(VECTORS, f), 'utf8');
const FIG2 = read('rfc6030-figure2-basic-plain.xml');
const FIG3 = read('rfc6030-figure3-supplementary-info.xml');
const FIG6 = read('rfc6030-figure6-aes128cbc-preshared-hmacsha1.xml');
const FIG7 = read('rfc6030-figure7-pbkdf2.xml');
const codes = (fs: Finding[], severity?: string): string[] => fs.filter((f) => !severity || f.severity === severity).map((f) => f.code);

/** A TOTP key package in the style of common 60-second key fobs. */
const totpPackage = (serial: string, id: string, extraData = '', interval = '60'): string =>
  `<KeyPackage><DeviceInfo><SerialNo>${serial}</SerialNo></DeviceInfo><Key Id="${id}" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp"><AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters><Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>${extraData}<TimeInterval><PlainValue>${interval}</PlainValue></TimeInterval></Data></Key></KeyPackage>`;
const container = (body: string): string => `<?xml version="1.0"?>\n<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">${body}</KeyContainer>`;

describe('diagnosePskc', () => {
  it.each([
    ['PBKDF2-params in the xenc11 namespace', FIG7.replace(/pkcs5:PBKDF2-params/g, 'xenc11:PBKDF2-params'), 'warning', 'PBKDF2_NAMESPACE'],
    ['MACMethod without MACKey', FIG6.replace(/<MACKey>[\s\S]*<\/MACKey>/, ''), 'warning', 'MAC_KEY_MISSING'],
    ['CBC value without ValueMAC', FIG6.replace(/<ValueMAC>[^<]*<\/ValueMAC>/, ''), 'error', 'MAC_MISSING'],
    ['ValueMAC without MACMethod', FIG6.replace(/<MACMethod[\s\S]*<\/MACMethod>/, ''), 'error', 'NO_MAC_METHOD'],
    ['draft-era algorithm URN', FIG3.replace('urn:ietf:params:xml:ns:keyprov:pskc:hotp', 'http://www.ietf.org/keyprov/pskc#hotp'), 'error', 'UNKNOWN_ALGORITHM'],
    ['unknown encryption algorithm', FIG6.replace(/xmlenc#aes128-cbc/g, 'xmlenc#aes128-ofb'), 'error', 'UNKNOWN_ENCRYPTION'],
    ['odd-length hex secret', FIG3.replace('MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=', '313233343536373839303132333435363738393'), 'error', 'ODD_LENGTH_SECRET'],
    ['hex text where base64 belongs', FIG3.replace('MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=', '3132333435363738393031323334353637383930'), 'warning', 'SECRET_LOOKS_HEX'],
    ['truncated base64 secret', FIG3.replace('MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=', 'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA'), 'error', 'BAD_BASE64'],
    ['60 s step where 30 s was expected', container(totpPackage('FOB1', 'k1')), 'warning', 'UNEXPECTED_STEP'],
    ['counter on a TOTP key', container(totpPackage('FOB1', 'k1', '<Counter><PlainValue>3</PlainValue></Counter>', '30')), 'warning', 'COUNTER_ON_TOTP'],
    ['TOTP without TimeInterval', container(totpPackage('FOB1', 'k1').replace(/<TimeInterval>.*<\/TimeInterval>/, '')), 'warning', 'NO_TIME_INTERVAL'],
    ['duplicate Key Ids', container(totpPackage('FOB1', 'k1', '', '30') + totpPackage('FOB2', 'k1', '', '30')), 'error', 'DUPLICATE_ID'],
    ['duplicate serials', container(totpPackage('FOB1', 'k1', '', '30') + totpPackage('FOB1', 'k2', '', '30')), 'warning', 'DUPLICATE_SERIAL'],
    ['missing serial', FIG2, 'warning', 'NO_SERIAL'],
    ['short secret', FIG2, 'warning', 'SHORT_SECRET'],
    ['no ResponseFormat', FIG2, 'warning', 'NO_RESPONSE_FORMAT'],
    ['secret derived out of band', read('rfc6030-figure4-key-derivation-reference.xml'), 'error', 'NO_SECRET'],
    ['lower-case id on KeyContainer', read('rfc6030-figure8-asymmetric-rsa.xml'), 'warning', 'LOWERCASE_ID'],
    ['Signature in the PSKC namespace', read('rfc6030-figure9-signature.xml'), 'warning', 'SIGNATURE_NAMESPACE'],
    ['wrong root namespace', FIG2.replace('xmlns="urn:ietf:params:xml:ns:keyprov:pskc"', 'xmlns="urn:ietf:params:xml:ns:keyprov:pskc:1.0"'), 'error', 'WRONG_NAMESPACE'],
    ['no keys', container(''), 'error', 'NO_KEYS'],
    ['DOCTYPE', `<!DOCTYPE x [<!ENTITY a "b">]>${FIG2}`, 'error', 'UNSAFE_XML'],
    ['truncated XML', FIG3.slice(0, 400), 'error', 'MALFORMED'],
  ])('%s', (_name, xml, severity, code) => {
    const fs = diagnosePskc(xml);
    expect(codes(fs, severity)).toContain(code);
  });

  it('expired keys are flagged against the injected clock', () => {
    const fs = diagnosePskc(read('rfc6030-figure10-bulk.xml'), { now: new Date('2026-01-01T00:00:00Z') });
    expect(codes(fs).filter((c) => c === 'EXPIRED')).toHaveLength(4);
    // In mid-May 2006 keys 1 and 2 are valid, key 3 (March) and key 4 (April) have expired.
    const may = diagnosePskc(read('rfc6030-figure10-bulk.xml'), { now: new Date('2006-05-15T00:00:00Z') });
    expect(may.filter((f) => f.code === 'EXPIRED').map((f) => f.keyId)).toEqual(['3', '4']);
    const feb = diagnosePskc(read('rfc6030-figure10-bulk.xml'), { now: new Date('2006-02-01T00:00:00Z') });
    expect(feb.filter((f) => f.code === 'NOT_YET_VALID').map((f) => f.keyId)).toEqual(['1', '2', '3', '4']);
  });

  it('with key material: MACs are checked, a wrong key is a finding', () => {
    expect(codes(diagnosePskc(FIG6, { keys: { psk: '12345678901234567890123456789012' } }))).toEqual(['DECRYPTED']);
    expect(codes(diagnosePskc(FIG6, { keys: { psk: '12345678901234567890123456789013' } }), 'error')).toEqual([expect.stringMatching(/^(MAC_MISMATCH|DECRYPTION_FAILED)$/)]);
    expect(codes(diagnosePskc(FIG6.replace('Su+NvtQfmvfJzF6bmQiJqoLRExc=', 'Su+NvtQfmvfJzF6bmQiJqoLRExY='), { keys: { psk: '12345678901234567890123456789012' } }), 'error')).toEqual(['MAC_MISMATCH']);
    expect(codes(diagnosePskc(FIG6))).toEqual(['ENCRYPTED']);
  });

  it('a file we export is clean', () => {
    const xml = renderExport(generateSeeds(3, { type: 'totp' }, nodeRng), { format: 'pskc', psk: '00112233445566778899aabbccddeeff' });
    expect(diagnosePskc(xml, { keys: { psk: '00112233445566778899aabbccddeeff' }, now: new Date() })).toEqual([{ severity: 'info', code: 'DECRYPTED', message: expect.any(String) }]);
  });
});

describe('tokenforge pskc doctor', () => {
  it('exit 1 with errors, 0 with warnings only; --json', async () => {
    const broken = join(tmp.dir, 'vendor.xml');
    writeFileSync(broken, FIG6.replace(/<ValueMAC>[^<]*<\/ValueMAC>/, '').replace('urn:ietf:params:xml:ns:keyprov:pskc:hotp', 'urn:ietf:params:xml:ns:keyprov:pskc:hotp-v2'));
    const r = await tokenforge(['pskc', 'doctor', broken]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^error\s+MAC_MISSING \(key 12345678, line \d+\): the secret is CBC-encrypted without a ValueMAC/m);
    expect(r.stdout).toMatch(/^error\s+UNKNOWN_ALGORITHM/m);
    expect(r.stdout).toMatch(/2 error\(s\)/);
    const fob = join(tmp.dir, 'fob.xml');
    writeFileSync(fob, container(totpPackage('FOB1', 'k1')));
    const w = await tokenforge(['pskc', 'doctor', fob, '--json']);
    expect(w.code).toBe(0);
    expect(JSON.parse(w.stdout).findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'UNEXPECTED_STEP', keyId: 'k1' })]);
    expect(diagnosePskc(readFileSync(fob, 'utf8'), { expectedPeriodSec: 60 })).toEqual([]);
  });
});
