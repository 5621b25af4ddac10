/**
 * OCRA (RFC 6287): suite parsing (every vector suite and the Section 6.4 examples), the inputs no Appendix C
 * vector covers (session S, t = 0, T in seconds/hours, H questions) checked against an independent DataInput
 * built here with node:crypto, and tables of malformed suites and inputs.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hexToBytes, ocra, ocraDataInput, ocraSignature, ocraServerResponse, OtpError, parseOcraSuite } from '../../otp/index.ts';
import { loadRfc6287 } from '../../conformance/vectors.ts';

const KEY20 = hexToBytes('3132333435363738393031323334353637383930');
const KEY64 = hexToBytes('31323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334');

describe('suite parsing', () => {
  it('parses every suite used by the Appendix C vectors', () => {
    for (const v of loadRfc6287().vectors) expect(parseOcraSuite(v.suite).text).toBe(v.suite);
  });

  it('parses the Section 6.4 examples, including the one-digit QH8', () => {
    expect(parseOcraSuite('OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1')).toEqual({
      text: 'OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1',
      version: 1,
      algorithm: 'SHA512',
      digits: 8,
      counter: true,
      question: { format: 'N', maxLength: 8 },
      pin: { algorithm: 'SHA1' },
    });
    expect(parseOcraSuite('OCRA-1:HOTP-SHA256-6:QA10-T1M')).toMatchObject({ digits: 6, counter: false, question: { format: 'A', maxLength: 10 }, timestamp: { stepSec: 60 } });
    expect(parseOcraSuite('OCRA-1:HOTP-SHA1-4:QH8-S512')).toMatchObject({ digits: 4, question: { format: 'H', maxLength: 8 }, session: { length: 512 } });
  });

  it('accepts the grammar limits', () => {
    expect(parseOcraSuite('OCRA-1:HOTP-SHA1-0:QN04').digits).toBe(0);
    expect(parseOcraSuite('OCRA-1:HOTP-SHA1-10:QN64').digits).toBe(10);
    expect(parseOcraSuite('OCRA-1:HOTP-SHA1-6:QN08-T59S').timestamp?.stepSec).toBe(59);
    expect(parseOcraSuite('OCRA-1:HOTP-SHA1-6:QN08-T48H').timestamp?.stepSec).toBe(48 * 3600);
    expect(parseOcraSuite('OCRA-1:HOTP-SHA1-6:C-QH64-PSHA512-S001-T30S')).toMatchObject({ counter: true, pin: { algorithm: 'SHA512' }, session: { length: 1 } });
  });

  const bad: [string, RegExp][] = [
    ['', /1\.\.64 characters/],
    ['OCRA-1:HOTP-SHA1-6', /three parts/],
    ['OCRA-1:HOTP-SHA1-6:QN08:X', /three parts/],
    ['OCRA-2:HOTP-SHA1-6:QN08', /not OCRA-1/],
    ['ocra-1:HOTP-SHA1-6:QN08', /not OCRA-1/],
    ['OCRA-1:HOTP-MD5-6:QN08', /crypto function/],
    ['OCRA-1:HOTP-SHA1-3:QN08', /crypto function/],
    ['OCRA-1:HOTP-SHA1-11:QN08', /crypto function/],
    ['OCRA-1:HOTP-SHA1-06:QN08', /crypto function/],
    ['OCRA-1:TOTP-SHA1-6:QN08', /crypto function/],
    ['OCRA-1:HOTP-SHA1-6:C', /needs a challenge/],
    ['OCRA-1:HOTP-SHA1-6:', /needs a challenge/],
    ['OCRA-1:HOTP-SHA1-6:QX08', /needs a challenge/],
    ['OCRA-1:HOTP-SHA1-6:QN', /needs a challenge/],
    ['OCRA-1:HOTP-SHA1-6:QN3', /outside 04..64/],
    ['OCRA-1:HOTP-SHA1-6:QN65', /outside 04..64/],
    ['OCRA-1:HOTP-SHA1-6:QN008', /needs a challenge/],
    ['OCRA-1:HOTP-SHA1-6:QN08-C', /not C, QFxx/],
    ['OCRA-1:HOTP-SHA1-6:C-C-QN08', /needs a challenge/],
    ['OCRA-1:HOTP-SHA1-6:QN08-PMD5', /PSHA1, PSHA256 or PSHA512/],
    ['OCRA-1:HOTP-SHA1-6:QN08-P', /PSHA1, PSHA256 or PSHA512/],
    ['OCRA-1:HOTP-SHA1-6:QN08-S64', /three digits/],
    ['OCRA-1:HOTP-SHA1-6:QN08-S', /three digits/],
    ['OCRA-1:HOTP-SHA1-6:QN08-S000', /outside 001..512/],
    ['OCRA-1:HOTP-SHA1-6:QN08-S513', /outside 001..512/],
    ['OCRA-1:HOTP-SHA1-6:QN08-T', /timestamp item/],
    ['OCRA-1:HOTP-SHA1-6:QN08-T60S', /outside 1..59S/],
    ['OCRA-1:HOTP-SHA1-6:QN08-T0M', /outside 1..59M/],
    ['OCRA-1:HOTP-SHA1-6:QN08-T0H', /outside 1..48H/],
    ['OCRA-1:HOTP-SHA1-6:QN08-T49H', /outside 1..48H/],
    ['OCRA-1:HOTP-SHA1-6:QN08-T1D', /timestamp item/],
    ['OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1', /out of order/],
    ['OCRA-1:HOTP-SHA1-6:QN08-PSHA1-PSHA1', /repeated or out of order/],
    ['OCRA-1:HOTP-SHA1-6:QN08-S064-S064', /repeated or out of order/],
    ['OCRA-1:HOTP-SHA1-6:QN08-', /not C, QFxx/],
    ['OCRA-1:HOTP-SHA1-6:QN08 ', /space/],
    [`OCRA-1:HOTP-SHA1-6:QN08-${'S064-'.repeat(12)}`, /1\.\.64 characters/],
  ];
  it.each(bad)('rejects %j', (suite, message) => {
    let caught: unknown;
    try {
      parseOcraSuite(suite);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OtpError);
    expect((caught as OtpError).code).toBe('INVALID_OCRA_SUITE');
    expect((caught as OtpError).message).toMatch(message);
  });
});

/** DataInput built by hand from Section 5.1, independent of otp/ocra.ts. */
function independent(suite: string, key: Uint8Array, parts: { c?: bigint; qHex: string; p?: Buffer; s?: Buffer; t?: bigint }, hash: string, digits: number): string {
  const chunks: Buffer[] = [Buffer.from(suite, 'ascii'), Buffer.alloc(1)];
  const u64 = (v: bigint): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return b;
  };
  if (parts.c !== undefined) chunks.push(u64(parts.c));
  chunks.push(Buffer.from(parts.qHex.padEnd(256, '0'), 'hex'));
  if (parts.p) chunks.push(parts.p);
  if (parts.s) chunks.push(parts.s);
  if (parts.t !== undefined) chunks.push(u64(parts.t));
  const mac = createHmac(hash, key).update(Buffer.concat(chunks)).digest();
  if (digits === 0) return mac.toString('hex');
  const o = mac[mac.length - 1]! & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 10 ** digits).padStart(digits, '0');
}

describe('inputs beyond Appendix C, against an independent DataInput', () => {
  it('session S064 (left-padded), hex question, PIN SHA256, counter, T30S from time', () => {
    const suite = 'OCRA-1:HOTP-SHA512-8:C-QH40-PSHA256-S064-T30S';
    const session = Buffer.from('0123456789abcdef', 'hex');
    const got = ocra(suite, KEY64, { counter: 7n, question: 'ABCDEF1234', pin: '9999', session: new Uint8Array(session), timeSec: 1_700_000_000n });
    const expected = independent(
      suite,
      KEY64,
      { c: 7n, qHex: 'ABCDEF1234', p: createHash('sha256').update('9999').digest(), s: Buffer.concat([Buffer.alloc(56), session]), t: 1_700_000_000n / 30n },
      'sha512',
      8,
    );
    expect(got).toBe(expected);
    expect(ocra(suite, KEY64, { counter: 7n, question: 'ABCDEF1234', pin: '9999', session: new Uint8Array(session), timestamp: 1_700_000_000n / 30n })).toBe(expected);
  });

  it('t = 0 gives the whole HMAC in hex; odd-length hex question is left-aligned', () => {
    const suite = 'OCRA-1:HOTP-SHA256-0:QH09';
    expect(ocra(suite, KEY20, { question: 'abc' })).toBe(independent(suite, KEY20, { qHex: 'abc' }, 'sha256', 0));
    expect(ocra(suite, KEY20, { question: 'abc' })).toHaveLength(64);
  });

  it('T in hours, 10 digits, numeric question beyond 2^53', () => {
    const suite = 'OCRA-1:HOTP-SHA1-10:QN20-T2H';
    const q = '98765432109876543210';
    expect(ocra(suite, KEY20, { question: q, timeSec: 4_102_444_800n })).toBe(
      independent(suite, KEY20, { qHex: BigInt(q).toString(16).toUpperCase(), t: 4_102_444_800n / 7200n }, 'sha1', 10),
    );
  });

  it('the DataInput of the first Appendix C row has the documented layout', () => {
    const bytes = ocraDataInput('OCRA-1:HOTP-SHA1-6:QN08', { question: '22222222' });
    const suiteLen = 'OCRA-1:HOTP-SHA1-6:QN08'.length;
    expect(bytes.length).toBe(suiteLen + 1 + 128);
    expect(bytes[suiteLen]).toBe(0);
    expect(Buffer.from(bytes.subarray(suiteLen + 1, suiteLen + 5)).toString('hex')).toBe('153158e0');
  });
});

describe('malformed OCRA inputs', () => {
  const S = 'OCRA-1:HOTP-SHA1-6:QN08';
  const cases: [string, () => unknown, string, RegExp][] = [
    ['empty question', () => ocra(S, KEY20, { question: '' }), 'INVALID_OCRA_INPUT', /must not be empty/],
    ['question too long', () => ocra(S, KEY20, { question: '123456789' }), 'INVALID_OCRA_INPUT', /at most 8/],
    ['letters in QN', () => ocra(S, KEY20, { question: '1234abcd' }), 'INVALID_OCRA_INPUT', /decimal digits/],
    ['non-hex in QH', () => ocra('OCRA-1:HOTP-SHA1-6:QH08', KEY20, { question: '12G4' }), 'INVALID_OCRA_INPUT', /hex digits/],
    ['punctuation in QA', () => ocra('OCRA-1:HOTP-SHA1-6:QA08', KEY20, { question: 'ab-cd' }), 'INVALID_OCRA_INPUT', /letters and digits/],
    ['counter missing', () => ocra('OCRA-1:HOTP-SHA1-6:C-QN08', KEY20, { question: '1' }), 'INVALID_OCRA_INPUT', /needs a counter/],
    ['counter not in suite', () => ocra(S, KEY20, { question: '1', counter: 1n }), 'INVALID_OCRA_INPUT', /has no counter/],
    ['negative counter', () => ocra('OCRA-1:HOTP-SHA1-6:C-QN08', KEY20, { question: '1', counter: -1n }), 'INVALID_OCRA_INPUT', /0\.\.2\^64-1/],
    ['counter 2^64', () => ocra('OCRA-1:HOTP-SHA1-6:C-QN08', KEY20, { question: '1', counter: 1n << 64n }), 'INVALID_OCRA_INPUT', /0\.\.2\^64-1/],
    ['PIN missing', () => ocra(`${S}-PSHA1`, KEY20, { question: '1' }), 'INVALID_OCRA_INPUT', /needs a PIN/],
    ['PIN and hash', () => ocra(`${S}-PSHA1`, KEY20, { question: '1', pin: '1', pinHash: new Uint8Array(20) }), 'INVALID_OCRA_INPUT', /not both/],
    ['PIN hash wrong length', () => ocra(`${S}-PSHA256`, KEY20, { question: '1', pinHash: new Uint8Array(20) }), 'INVALID_OCRA_INPUT', /32 bytes/],
    ['PIN not in suite', () => ocra(S, KEY20, { question: '1', pin: '1234' }), 'INVALID_OCRA_INPUT', /has no PIN/],
    ['session missing', () => ocra(`${S}-S064`, KEY20, { question: '1' }), 'INVALID_OCRA_INPUT', /needs session/],
    ['session too long', () => ocra(`${S}-S004`, KEY20, { question: '1', session: new Uint8Array(5) }), 'INVALID_OCRA_INPUT', /at most 4 bytes/],
    ['session not in suite', () => ocra(S, KEY20, { question: '1', session: new Uint8Array(1) }), 'INVALID_OCRA_INPUT', /no session/],
    ['timestamp missing', () => ocra(`${S}-T1M`, KEY20, { question: '1' }), 'INVALID_OCRA_INPUT', /needs a timestamp/],
    ['timestamp and time', () => ocra(`${S}-T1M`, KEY20, { question: '1', timestamp: 1n, timeSec: 60n }), 'INVALID_OCRA_INPUT', /not both/],
    ['negative time', () => ocra(`${S}-T1M`, KEY20, { question: '1', timeSec: -1n }), 'INVALID_OCRA_INPUT', /non-negative/],
    ['timestamp not in suite', () => ocra(S, KEY20, { question: '1', timestamp: 1n }), 'INVALID_OCRA_INPUT', /no timestamp/],
    ['signature with session', () => ocraSignature(`${S}-S064`, KEY20, { question: '1', session: new Uint8Array(1) }), 'INVALID_OCRA_SUITE', /signature suite may not/],
    ['mutual challenge too long', () => ocraServerResponse('OCRA-1:HOTP-SHA1-6:QA08', KEY20, { clientChallenge: 'CLI222200', serverChallenge: 'SRV11110' }), 'INVALID_OCRA_INPUT', /client challenge has 9/],
    ['empty key', () => ocra(S, new Uint8Array(0), { question: '1' }), 'INVALID_KEY', /empty/],
    ['malformed suite', () => ocra('OCRA-1:HOTP-SHA1-6:QZ08', KEY20, { question: '1' }), 'INVALID_OCRA_SUITE', /challenge/],
  ];
  it.each(cases)('%s', (_name, f, code, message) => {
    let caught: unknown;
    try {
      f();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OtpError);
    expect((caught as OtpError).code).toBe(code);
    expect((caught as OtpError).message).toMatch(message);
  });

  it('messages never contain the PIN', () => {
    try {
      ocra('OCRA-1:HOTP-SHA1-6:QN08', KEY20, { question: '1', pin: 'hunter2-secret' });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
