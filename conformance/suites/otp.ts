/**
 * The `otp` conformance suite: every algorithm vector through the library.
 *
 * Groups: rfc4226 (Appendix D Table 2 through hotp(), the engine's batch and window APIs, and the Section 5.4
 * truncation example), rfc6238 (Appendix B, all 18 rows: time step and code), rfc6287 (Appendix C: one-way,
 * mutual server/client and plain signature), rfc4648 (Section 10 base32), keyuri (the Key Uri Format wiki examples). Inputs and expected
 * values come from conformance/vectors/*.json; nothing expected is computed by the code under test.
 */
import {
  createHotpEngine,
  dynamicTruncate,
  decodeBase32,
  encodeBase32,
  formatCode,
  formatOtpauthUri,
  hexToBytes,
  bytesToHex,
  hotp,
  ocra,
  ocraClientResponse,
  ocraServerResponse,
  ocraSignature,
  parseOtpauthUri,
  totp,
  totpStep,
  type OcraInput,
} from '../../otp/index.ts';
import type { CaseResult, Suite } from '../types.ts';
import { loadKeyUri, loadRfc4226, loadRfc4648, loadRfc6238, loadRfc6287, ocraMode, type Rfc6287Vector } from '../vectors.ts';

const SUITE = 'otp';

/** Runs one check: `check` returns [actual, expected] strings; a throw is a failure with the error's message. */
function runCase(group: string, name: string, source: string, check: () => [string, string]): CaseResult {
  const started = performance.now();
  const result: CaseResult = { suite: SUITE, group, name, status: 'pass', durationMs: 0, source };
  try {
    const [actual, expected] = check();
    if (actual !== expected) {
      result.status = 'fail';
      result.message = `expected ${expected}, got ${actual}`;
    }
  } catch (e) {
    result.status = 'fail';
    result.message = `threw: ${e instanceof Error ? e.message : String(e)}`;
  }
  result.durationMs = performance.now() - started;
  return result;
}

function rfc4226Cases(): CaseResult[] {
  const file = loadRfc4226();
  const key = hexToBytes(file.key_hex);
  const out: CaseResult[] = [];
  for (const v of file.vectors) {
    out.push(runCase('rfc4226', `hotp counter ${v.counter}`, v.source, () => [hotp(key, BigInt(v.counter), { digits: v.digits }), v.expected]));
  }
  const first = file.vectors[0]!;
  const digits = first.digits;
  const tableSource = 'RFC 4226 Appendix D, Table 2 (all rows)';
  out.push(
    runCase('rfc4226', `engine batch counters ${first.counter}..${first.counter + file.vectors.length - 1}`, tableSource, () => {
      const engine = createHotpEngine(key, { algorithm: 'SHA1', digits });
      const values = new Uint32Array(file.vectors.length);
      engine.batch(BigInt(first.counter), values);
      engine.destroy();
      return [Array.from(values, (x) => formatCode(x, digits)).join(','), file.vectors.map((v) => v.expected).join(',')];
    }),
  );
  for (const v of [file.vectors[0]!, file.vectors[file.vectors.length - 1]!]) {
    out.push(
      runCase('rfc4226', `engine window finds counter ${v.counter}`, v.source, () => {
        const engine = createHotpEngine(key, { algorithm: 'SHA1', digits });
        const found = engine.findInWindow(Number(v.expected), BigInt(first.counter), file.vectors.length);
        engine.destroy();
        return [String(found), String(v.counter)];
      }),
    );
  }
  const t = file.truncation_example_section_5_4;
  out.push(
    runCase('rfc4226', 'section 5.4 truncation example', t.source, () => {
      const mac = hexToBytes(t.hmac_sha1_hex);
      const dbc = dynamicTruncate(mac);
      return [`${dbc} ${formatCode(dbc % 10 ** t.digits, t.digits)}`, `${t.dbc_decimal} ${t.expected}`];
    }),
  );
  return out;
}

function rfc6238Cases(): CaseResult[] {
  const file = loadRfc6238();
  return file.vectors.map((v) =>
    runCase('rfc6238', `totp ${v.mode} time ${v.time}`, v.source, () => {
      const step = totpStep(BigInt(v.time), BigInt(file.X), BigInt(file.T0));
      const code = totp(hexToBytes(v.key_hex), BigInt(v.time), { algorithm: v.mode, digits: v.digits, periodSec: BigInt(file.X), t0Sec: BigInt(file.T0) });
      return [`T=${step.toString(16).toUpperCase().padStart(16, '0')} ${code}`, `T=${v.T_hex} ${v.expected}`];
    }),
  );
}

/** The OCRA inputs a vector row gives, as the library takes them. */
export function ocraInputOf(v: Rfc6287Vector): Omit<OcraInput, 'question'> {
  const input: Omit<OcraInput, 'question'> = {};
  if (v.counter !== null) input.counter = BigInt(v.counter);
  if (v.pin !== null) input.pin = v.pin;
  if (v.session !== null) input.session = hexToBytes(v.session);
  if (v.timestamp_decimal !== null) input.timestamp = BigInt(v.timestamp_decimal);
  return input;
}

function rfc6287Cases(): CaseResult[] {
  const file = loadRfc6287();
  const seen = new Map<string, number>();
  return file.vectors.map((v) => {
    const mode = ocraMode(v);
    const base = `${mode} ${v.suite} q=${v.question}${v.counter !== null ? ` c=${v.counter}` : ''}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return runCase('rfc6287', n > 1 ? `${base} #${n}` : base, v.source, () => {
      const key = hexToBytes(v.key_hex);
      const input = ocraInputOf(v);
      switch (mode) {
        case 'one-way':
          return [ocra(v.suite, key, { ...input, question: v.question }), v.expected];
        case 'signature':
          return [ocraSignature(v.suite, key, { ...input, question: v.question }), v.expected];
        case 'server':
        case 'client': {
          if (v.client_challenge === undefined || v.server_challenge === undefined) throw new Error('vector row lacks client_challenge/server_challenge');
          const m = { ...input, clientChallenge: v.client_challenge, serverChallenge: v.server_challenge };
          return [mode === 'server' ? ocraServerResponse(v.suite, key, m) : ocraClientResponse(v.suite, key, m), v.expected];
        }
      }
    });
  });
}

function keyUriCases(): CaseResult[] {
  const file = loadKeyUri();
  const out: CaseResult[] = [];
  file.wiki_examples.forEach((ex, i) => {
    out.push(runCase('keyuri', `wiki example ${i + 1} secret`, file.source, () => [bytesToHex(parseOtpauthUri(ex.uri).secret), ex.secret_hex]));
  });
  const last = file.wiki_examples[file.wiki_examples.length - 1]!;
  out.push(runCase('keyuri', 'wiki example round trip (parse, format)', file.source, () => [formatOtpauthUri(parseOtpauthUri(last.uri)), last.uri]));
  return out;
}

function rfc4648Cases(): CaseResult[] {
  const file = loadRfc4648();
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return file.vectors.flatMap((v) => [
    runCase('rfc4648', `base32 encode "${v.ascii}"`, v.source, () => [encodeBase32(enc.encode(v.ascii), { pad: true }), v.base32]),
    runCase('rfc4648', `base32 decode "${v.base32}"`, v.source, () => [dec.decode(decodeBase32(v.base32)), v.ascii]),
  ]);
}

export const otpSuite: Suite = {
  name: 'otp',
  description: 'RFC 4226, 6238, 6287 and 4648 vectors and Key Uri Format examples through the library',
  target: 'none',
  run: async () => [...rfc4226Cases(), ...rfc6238Cases(), ...rfc6287Cases(), ...rfc4648Cases(), ...keyUriCases()],
};
