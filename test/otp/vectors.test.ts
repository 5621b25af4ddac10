/**
 * Every RFC vector through the library's public API (otp/index.ts). Inputs and expected values come from
 * conformance/vectors/*.json (the same files the conformance command reads).
 */
import { describe, expect, it } from 'vitest';
import {
  hexToBytes,
  hotp,
  ocra,
  ocraClientResponse,
  ocraServerResponse,
  ocraSignature,
  totp,
  totpStep,
  createHotpEngine,
  dynamicTruncate,
} from '../../otp/index.ts';
import { loadRfc4226, loadRfc6238, loadRfc6287, ocraMode } from '../../conformance/vectors.ts';
import { ocraInputOf } from '../../conformance/suites/otp.ts';

const rfc4226 = loadRfc4226();
const rfc6238 = loadRfc6238();
const rfc6287 = loadRfc6287();

describe('RFC 4226 Appendix D through hotp()', () => {
  const key = hexToBytes(rfc4226.key_hex);
  it.each(rfc4226.vectors.map((v) => [v.counter, v.expected, v] as const))('counter %i -> %s', (counter, expected, v) => {
    expect(hotp(key, BigInt(counter), { digits: v.digits })).toBe(expected);
  });

  it('keeps every row with its source', () => {
    for (const v of rfc4226.vectors) expect(v.source).toMatch(/^RFC 4226 Appendix D/);
    expect(rfc4226.truncation_example_section_5_4.source).toMatch(/Section 5.4/);
  });

  it('Section 5.4 truncation example', () => {
    const t = rfc4226.truncation_example_section_5_4;
    const dbc = dynamicTruncate(hexToBytes(t.hmac_sha1_hex));
    expect(dbc).toBe(t.dbc_decimal);
    expect(String(dbc % 10 ** t.digits).padStart(t.digits, '0')).toBe(t.expected);
  });

  it('truncated values match Table 1 for 10 digits (the 31-bit number itself, as 10 digits)', () => {
    for (const v of rfc4226.vectors) {
      expect(hotp(key, BigInt(v.counter), { digits: 10 })).toBe(String(v.truncated_decimal).padStart(10, '0'));
    }
  });

  it('batch and window APIs agree with the table', () => {
    const engine = createHotpEngine(key, { digits: 6 });
    const out = new Uint32Array(rfc4226.vectors.length);
    engine.batch(0n, out);
    expect(Array.from(out, (x) => String(x).padStart(6, '0'))).toEqual(rfc4226.vectors.map((v) => v.expected));
    expect(engine.findInWindow(Number(rfc4226.vectors[7]!.expected), 0n, 10)).toBe(7n);
    engine.destroy();
  });
});

describe('RFC 6238 Appendix B through totp() (18 rows)', () => {
  it('has 18 rows', () => expect(rfc6238.vectors).toHaveLength(18));
  it.each(rfc6238.vectors.map((v) => [v.mode, v.time, v.expected, v] as const))('%s time %i -> %s', (mode, time, expected, v) => {
    expect(v.source).toMatch(/^RFC 6238 Appendix B/);
    const step = totpStep(BigInt(time), BigInt(rfc6238.X), BigInt(rfc6238.T0));
    expect(step.toString(16).toUpperCase().padStart(16, '0')).toBe(v.T_hex);
    expect(totp(hexToBytes(v.key_hex), BigInt(time), { algorithm: mode, digits: v.digits })).toBe(expected);
    // The time as a plain number gives the same code.
    expect(totp(hexToBytes(v.key_hex), time, { algorithm: mode, digits: v.digits })).toBe(expected);
  });
});

describe('RFC 6287 Appendix C through ocra*() (all modes)', () => {
  it('covers one-way, server, client and signature modes', () => {
    expect(new Set(rfc6287.vectors.map(ocraMode))).toEqual(new Set(['one-way', 'server', 'client', 'signature']));
    expect(rfc6287.vectors.length).toBe(70);
  });
  it.each(rfc6287.vectors.map((v, i) => [i, ocraMode(v), v.suite, v.expected, v] as const))('#%i %s %s -> %s', (_i, mode, suite, expected, v) => {
    expect(v.source).toMatch(/^RFC 6287 Appendix C/);
    const key = hexToBytes(v.key_hex);
    const input = ocraInputOf(v);
    let actual: string;
    if (mode === 'server' || mode === 'client') {
      const m = { ...input, clientChallenge: v.client_challenge!, serverChallenge: v.server_challenge! };
      actual = mode === 'server' ? ocraServerResponse(suite, key, m) : ocraClientResponse(suite, key, m);
      // The RFC table prints the concatenation the response is computed over.
      expect(mode === 'server' ? m.clientChallenge + m.serverChallenge : m.serverChallenge + m.clientChallenge).toBe(v.question);
    } else if (mode === 'signature') {
      actual = ocraSignature(suite, key, { ...input, question: v.question });
    } else {
      actual = ocra(suite, key, { ...input, question: v.question });
    }
    expect(actual).toBe(expected);
    // Giving the PIN as its hash (from the file) gives the same response.
    if (v.pin_hash_hex !== null && mode === 'one-way') {
      const { pin: _pin, ...rest } = input;
      expect(ocra(suite, key, { ...rest, pinHash: hexToBytes(v.pin_hash_hex), question: v.question })).toBe(expected);
    }
  });
});
