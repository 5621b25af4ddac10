/** otpauth:// URIs: the Key Uri Format examples (keyuri.json), round trips, and a table of malformed URIs. */
import { describe, expect, it } from 'vitest';
import { bytesToHex, formatOtpauthUri, hexToBytes, hotp, OtpError, parseOtpauthUri, totp } from '../../otp/index.ts';
import { loadKeyUri, loadRfc4226, loadRfc6238 } from '../../conformance/vectors.ts';

const file = loadKeyUri();

describe('Key Uri Format examples', () => {
  it('wiki example 1', () => {
    const k = parseOtpauthUri(file.wiki_examples[0]!.uri);
    expect(k).toMatchObject({ type: 'totp', issuer: 'Example', account: 'alice@google.com', algorithm: 'SHA1', digits: 6, periodSec: 30 });
    expect(bytesToHex(k.secret)).toBe(file.wiki_examples[0]!.secret_hex);
  });

  it('wiki example 2 parses and formats back to the same string', () => {
    const uri = file.wiki_examples[1]!.uri;
    const k = parseOtpauthUri(uri);
    expect(k).toMatchObject({ type: 'totp', issuer: 'ACME Co', account: 'john.doe@email.com' });
    expect(bytesToHex(k.secret)).toBe(file.wiki_examples[1]!.secret_hex);
    expect(formatOtpauthUri(k)).toBe(uri);
  });

  it('label forms from the wiki: literal colon, %3A, spaces before the account', () => {
    const secret = 'secret=JBSWY3DPEHPK3PXP';
    expect(parseOtpauthUri(`otpauth://totp/Example:alice@gmail.com?${secret}`)).toMatchObject({ issuer: 'Example', account: 'alice@gmail.com' });
    expect(parseOtpauthUri(`otpauth://totp/Provider1:Alice%20Smith?${secret}`)).toMatchObject({ issuer: 'Provider1', account: 'Alice Smith' });
    expect(parseOtpauthUri(`otpauth://totp/Big%20Corporation%3A%20alice%40bigco.com?${secret}`)).toMatchObject({
      issuer: 'Big Corporation',
      account: 'alice@bigco.com',
    });
    const noIssuer = parseOtpauthUri(`otpauth://totp/alice?${secret}`);
    expect(noIssuer.account).toBe('alice');
    expect(noIssuer.issuer).toBeUndefined();
  });

  it('the derived hotp/totp URIs give the RFC codes (expected values from the RFC files)', () => {
    const h = parseOtpauthUri(file.derived_examples_NOT_FROM_WIKI.hotp_uri);
    expect(h.type).toBe('hotp');
    expect(h.counter).toBe(0n);
    expect(hotp(h.secret, h.counter!, { algorithm: h.algorithm, digits: h.digits })).toBe(loadRfc4226().vectors[0]!.expected);
    const t = parseOtpauthUri(file.derived_examples_NOT_FROM_WIKI.totp_uri_sha256);
    const row = loadRfc6238().vectors.find((v) => v.mode === 'SHA256' && v.time === 59)!;
    expect(bytesToHex(t.secret)).toBe(row.key_hex);
    expect(totp(t.secret, 59n, { algorithm: t.algorithm, digits: t.digits, periodSec: t.periodSec! })).toBe(row.expected);
  });

  it('defaults and case-insensitive scheme/type; format/parse round trip keeps every field', () => {
    const k = parseOtpauthUri('OTPAUTH://TOTP/a?secret=jbswy3dpehpk3pxp');
    expect(k).toMatchObject({ type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30 });
    const h = { type: 'hotp' as const, account: 'bob smith', issuer: 'Ünïcode & Co', secret: hexToBytes('00ff10'), algorithm: 'SHA512' as const, digits: 10, counter: (1n << 64n) - 1n };
    const back = parseOtpauthUri(formatOtpauthUri(h));
    expect(back).toEqual(h);
    expect(parseOtpauthUri('otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&image=https%3A%2F%2Fx%2Fy.png').account).toBe('a');
    expect(parseOtpauthUri('otpauth://totp/a?secret=MZXW6YQ%3D').secret).toEqual(new TextEncoder().encode('foob'));
  });
});

describe('malformed otpauth URIs', () => {
  const S = 'secret=JBSWY3DPEHPK3PXP';
  const cases: [string, string, string, RegExp][] = [
    ['not a URI', 'hello', 'INVALID_URI', /expected otpauth/],
    ['wrong scheme', `https://totp/a?${S}`, 'INVALID_URI', /scheme must be otpauth/],
    ['unknown type', `otpauth://motp/a?${S}`, 'INVALID_URI', /type must be hotp or totp/],
    ['no label', `otpauth://totp/?${S}`, 'INVALID_URI', /label/],
    ['empty account', `otpauth://totp/Example:?${S}`, 'INVALID_URI', /account name .* empty/],
    ['empty issuer prefix', `otpauth://totp/:alice?${S}`, 'INVALID_URI', /issuer before ":" is empty/],
    ['two colons', `otpauth://totp/a:b:c?${S}`, 'INVALID_URI', /colon/],
    ['encoded second colon', `otpauth://totp/a:b%3Ac?${S}`, 'INVALID_URI', /colon/],
    ['no secret', 'otpauth://totp/a?issuer=x', 'INVALID_URI', /secret parameter is required/],
    ['empty secret', 'otpauth://totp/a?secret=', 'INVALID_URI', /secret parameter is required/],
    ['bad base32 secret', 'otpauth://totp/a?secret=JBSW1', 'INVALID_BASE32', /character 5/],
    ['hotp without counter', `otpauth://hotp/a?${S}`, 'INVALID_URI', /counter parameter is required/],
    ['negative counter', `otpauth://hotp/a?${S}&counter=-1`, 'INVALID_URI', /counter must be a non-negative/],
    ['counter too large', `otpauth://hotp/a?${S}&counter=18446744073709551616`, 'INVALID_URI', /too large/],
    ['period on hotp', `otpauth://hotp/a?${S}&counter=0&period=30`, 'INVALID_URI', /period applies to totp only/],
    ['counter on totp', `otpauth://totp/a?${S}&counter=1`, 'INVALID_URI', /counter applies to hotp only/],
    ['zero period', `otpauth://totp/a?${S}&period=0`, 'INVALID_URI', /at least 1 second/],
    ['float period', `otpauth://totp/a?${S}&period=30.5`, 'INVALID_URI', /period must be/],
    ['digits 5', `otpauth://totp/a?${S}&digits=5`, 'INVALID_URI', /outside 6..10/],
    ['digits 11', `otpauth://totp/a?${S}&digits=11`, 'INVALID_URI', /outside 6..10/],
    ['digits text', `otpauth://totp/a?${S}&digits=six`, 'INVALID_URI', /digits must be/],
    ['unknown algorithm', `otpauth://totp/a?${S}&algorithm=MD5`, 'INVALID_URI', /algorithm must be/],
    ['repeated parameter', `otpauth://totp/a?${S}&${S}`, 'INVALID_URI', /appears twice/],
    ['parameter without value', `otpauth://totp/a?${S}&issuer`, 'INVALID_URI', /name=value/],
    ['issuer mismatch', `otpauth://totp/A:b?${S}&issuer=B`, 'INVALID_URI', /differs from the issuer label prefix/],
    ['empty issuer parameter', `otpauth://totp/b?${S}&issuer=`, 'INVALID_URI', /issuer parameter is empty/],
    ['bad percent escape', `otpauth://totp/a%ZZ?${S}`, 'INVALID_URI', /malformed %-escape/],
    ['fragment', `otpauth://totp/a?${S}#x`, 'INVALID_URI', /fragment/],
    ['space', `otpauth://totp/a b?${S}`, 'INVALID_URI', /whitespace/],
    ['overlong', `otpauth://totp/a?${S}&x=${'A'.repeat(5000)}`, 'INVALID_URI', /longer than/],
  ];
  it.each(cases)('%s', (_name, uri, code, message) => {
    let caught: unknown;
    try {
      parseOtpauthUri(uri);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OtpError);
    expect((caught as OtpError).code).toBe(code);
    expect((caught as OtpError).message).toMatch(message);
    expect((caught as OtpError).message).not.toContain('JBSWY3DPEHPK3PXP');
  });

  it('format refuses colons, empty names and bad periods', () => {
    const base = { type: 'totp' as const, account: 'a', secret: hexToBytes('00'), algorithm: 'SHA1' as const, digits: 6 };
    expect(() => formatOtpauthUri({ ...base, account: 'a:b' })).toThrow(/colon/);
    expect(() => formatOtpauthUri({ ...base, issuer: 'x:y' })).toThrow(/colon/);
    expect(() => formatOtpauthUri({ ...base, account: '' })).toThrow(/empty/);
    expect(() => formatOtpauthUri({ ...base, periodSec: 0 })).toThrow(/period/);
    expect(() => formatOtpauthUri({ ...base, digits: 4 })).toThrow(/digits/);
    expect(() => formatOtpauthUri({ ...base, secret: new Uint8Array(0) })).toThrow(/empty/);
  });
});
