/**
 * OCRA, the OATH challenge-response algorithm (RFC 6287).
 *
 * Suite grammar (Section 6): `OCRA-1:<CryptoFunction>:<DataInput>`
 *   CryptoFunction = HOTP-SHA1-t | HOTP-SHA256-t | HOTP-SHA512-t, t = 0 (no truncation) or 4..10
 *   DataInput      = [C-] QFxx [-PH] [-Snnn] [-TG]   (items in this order, each at most once)
 *     C     8-byte counter
 *     QFxx  challenge, F = A (alphanumeric) | N (numeric) | H (hex), xx = 04..64 maximum length; a single digit
 *           4..9 is tolerated because Section 6.4's own example is "QH8"
 *     PH    PIN hash, H = SHA1 | SHA256 | SHA512
 *     Snnn  session information of nnn bytes, 001..512 (typical 064, 128, 256, 512)
 *     TG    time step, G = 1..59S | 1..59M | 1..48H ("0H" is in Table 3's range but a zero step cannot count
 *           time, so it is refused; Section 5.1's "days" is not in the G table and is refused too)
 * Shorthands without a value (bare "P", "S", "T") are refused: the suite string is hashed into every response,
 * so two spellings of one suite would give two different answers.
 *
 * Computation (Section 5.1, Appendix A): DataInput bytes =
 *   suite (ASCII) | 0x00 | C (8, big-endian) | Q (128, right-padded with 0) | P (hash length) | S (nnn, left-padded)
 *   | T (8, big-endian)
 * then HMAC with the suite's hash and RFC 4226 dynamic truncation to t digits (t = 0: the whole HMAC in hex).
 * Question encoding: N = the decimal number in upper-case hex, right-padded with "0" nibbles (odd hex length
 * is left-aligned, as in Appendix A); A = ASCII bytes; H = the hex digits, right-padded the same way.
 *
 * Modes (Section 7): one-way challenge-response and plain signature use one question; mutual
 * challenge-response uses the server challenge QS and the client challenge QC, each bounded by xx: the
 * server's response is computed over QC|QS and the client's over QS|QC. Signature suites may not carry S.
 *
 * OCRA runs on variable-length messages, so it uses the reference HMAC (reference.ts), not the HOTP engine:
 * it is never on a hot path. Errors: INVALID_OCRA_SUITE for the suite text, INVALID_OCRA_INPUT for a missing,
 * extra or malformed input. Messages never contain the key, PIN or session data.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { OtpError } from './errors.ts';
import { bytesToHex, hexToBytes } from './hex.ts';
import { checkKey, formatCode, MAX_COUNTER, POW10, type HashAlgorithm } from './params.ts';
import { dynamicTruncate, hmacReference } from './reference.ts';

export type OcraQuestionFormat = 'A' | 'N' | 'H';

export interface OcraSuite {
  /** The suite text exactly as given (it is part of the HMAC input). */
  readonly text: string;
  readonly version: 1;
  readonly algorithm: HashAlgorithm;
  /** 0 = no truncation (full HMAC as hex), else 4..10. */
  readonly digits: number;
  readonly counter: boolean;
  readonly question: { readonly format: OcraQuestionFormat; readonly maxLength: number };
  readonly pin?: { readonly algorithm: HashAlgorithm };
  readonly session?: { readonly length: number };
  readonly timestamp?: { readonly stepSec: number; readonly text: string };
}

export interface OcraInput {
  counter?: bigint;
  /** The challenge; for mutual mode use ocraServerResponse / ocraClientResponse. */
  question: string;
  /** The PIN or password; hashed with the suite's P hash (UTF-8). Give either this or pinHash. */
  pin?: string;
  /** The already hashed PIN (exactly the hash length). */
  pinHash?: Uint8Array;
  /** Session information, at most nnn bytes (left-padded with zeros). */
  session?: Uint8Array;
  /** The time-step count T (steps of the suite's G since the Unix epoch). Give either this or timeSec. */
  timestamp?: bigint;
  /** Unix time in seconds; T = floor(timeSec / G). */
  timeSec?: bigint;
}

export type OcraMutualInput = Omit<OcraInput, 'question'> & { clientChallenge: string; serverChallenge: string };

const HASH_LENGTH = { SHA1: 20, SHA256: 32, SHA512: 64 } as const;
const PIN_HASHES = { SHA1: sha1, SHA256: sha256, SHA512: sha512 } as const;
const TIME_UNITS = { S: { sec: 1, max: 59 }, M: { sec: 60, max: 59 }, H: { sec: 3600, max: 48 } } as const;
const MAX_SUITE_LENGTH = 64;
const QUESTION_BYTES = 128;

function badSuite(message: string): OtpError {
  return new OtpError('INVALID_OCRA_SUITE', `OCRA suite: ${message}`);
}

function badInput(message: string): OtpError {
  return new OtpError('INVALID_OCRA_INPUT', `OCRA input: ${message}`);
}

const SUITE_HINT = 'expected e.g. OCRA-1:HOTP-SHA1-6:QN08 or OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1';

export function parseOcraSuite(text: string): OcraSuite {
  if (typeof text !== 'string') throw new TypeError('suite: must be a string');
  if (text.length === 0 || text.length > MAX_SUITE_LENGTH) throw badSuite(`must be 1..${MAX_SUITE_LENGTH} characters; ${SUITE_HINT}`);
  if (!/^[\x21-\x7e]+$/.test(text)) throw badSuite(`contains a space or non-ASCII character; ${SUITE_HINT}`);
  const parts = text.split(':');
  if (parts.length !== 3) throw badSuite(`must have three parts separated by ":" (Algorithm:CryptoFunction:DataInput); ${SUITE_HINT}`);
  const [alg, crypto, dataInput] = parts as [string, string, string];
  if (alg !== 'OCRA-1') throw badSuite(`algorithm "${alg}" is not OCRA-1 (the only version RFC 6287 defines)`);

  const cm = /^HOTP-(SHA1|SHA256|SHA512)-(0|[4-9]|10)$/.exec(crypto);
  if (!cm) throw badSuite(`crypto function "${crypto}" must be HOTP-SHA1-t, HOTP-SHA256-t or HOTP-SHA512-t with t = 0 or 4..10`);
  const algorithm = cm[1] as HashAlgorithm;
  const digits = Number(cm[2]);

  const items = dataInput.split('-');
  let i = 0;
  let counter = false;
  if (items[i] === 'C') {
    counter = true;
    i++;
  }
  const q = items[i] !== undefined ? /^Q([ANH])([0-9]{1,2})$/.exec(items[i]!) : null;
  if (!q) throw badSuite(`data input "${dataInput}" needs a challenge QFxx (F = A, N or H; xx = 04..64) after the optional C`);
  const maxLength = Number(q[2]);
  if (maxLength < 4 || maxLength > 64) throw badSuite(`challenge length ${q[2]} is outside 04..64`);
  i++;
  const suite: {
    -readonly [K in keyof OcraSuite]: OcraSuite[K];
  } = { text, version: 1, algorithm, digits, counter, question: { format: q[1] as OcraQuestionFormat, maxLength } };

  const order = ['P', 'S', 'T'];
  let last = -1;
  for (; i < items.length; i++) {
    const item = items[i]!;
    const kind = order.indexOf(item[0] ?? '');
    if (kind < 0) throw badSuite(`data input item "${item}" is not C, QFxx, PH, Snnn or TG`);
    if (kind <= last) throw badSuite(`data input item "${item}" is repeated or out of order (order: C, Q, P, S, T)`);
    last = kind;
    if (item[0] === 'P') {
      const pm = /^P(SHA1|SHA256|SHA512)$/.exec(item);
      if (!pm) throw badSuite(`PIN item "${item}" must be PSHA1, PSHA256 or PSHA512`);
      suite.pin = { algorithm: pm[1] as HashAlgorithm };
    } else if (item[0] === 'S') {
      const sm = /^S([0-9]{3})$/.exec(item);
      if (!sm) throw badSuite(`session item "${item}" must be S followed by three digits (S064, S128, S256, S512)`);
      const length = Number(sm[1]);
      if (length < 1 || length > 512) throw badSuite(`session length ${sm[1]} is outside 001..512`);
      suite.session = { length };
    } else {
      const tm = /^T([0-9]{1,2})([SMH])$/.exec(item);
      if (!tm) throw badSuite(`timestamp item "${item}" must be T followed by 1-59S, 1-59M or 1-48H (e.g. T1M, T30S)`);
      const n = Number(tm[1]);
      const unit = TIME_UNITS[tm[2] as keyof typeof TIME_UNITS];
      if (n < 1 || n > unit.max) throw badSuite(`timestamp step ${tm[1]}${tm[2]} is outside 1..${unit.max}${tm[2]}`);
      suite.timestamp = { stepSec: n * unit.sec, text: item.slice(1) };
    }
  }
  return suite;
}

function resolveSuite(suite: OcraSuite | string): OcraSuite {
  return typeof suite === 'string' ? parseOcraSuite(suite) : suite;
}

/** Checks one challenge against the suite's format and maximum length. */
function checkChallenge(suite: OcraSuite, q: string, what: string): void {
  if (typeof q !== 'string' || q.length === 0) throw badInput(`${what} is required by ${suite.text} and must not be empty`);
  const { format, maxLength } = suite.question;
  if (q.length > maxLength) throw badInput(`${what} has ${q.length} characters; the suite allows at most ${maxLength} (Q${format}${String(maxLength).padStart(2, '0')})`);
  if (format === 'N' && !/^[0-9]+$/.test(q)) throw badInput(`${what} must be decimal digits for a QN suite`);
  if (format === 'H' && !/^[0-9A-Fa-f]+$/.test(q)) throw badInput(`${what} must be hex digits for a QH suite`);
  if (format === 'A' && !/^[0-9A-Za-z]+$/.test(q)) throw badInput(`${what} must be letters and digits for a QA suite`);
}

/** Q field: 128 bytes, right-padded (Appendix A). `q` is already checked against the format. */
function encodeQuestion(format: OcraQuestionFormat, q: string): Uint8Array {
  let hex: string;
  if (format === 'N') hex = BigInt(q).toString(16).toUpperCase();
  else if (format === 'H') hex = q;
  else hex = bytesToHex(new TextEncoder().encode(q));
  if (hex.length > QUESTION_BYTES * 2) throw badInput(`challenge encodes to more than ${QUESTION_BYTES} bytes`);
  return hexToBytes(hex.padEnd(QUESTION_BYTES * 2, '0'), 'challenge');
}

function bigEndian8(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

/** The DataInput bytes (Section 5.1) for a checked, already concatenated question. */
function dataInputBytes(suite: OcraSuite, question: string, input: Omit<OcraInput, 'question'>): Uint8Array {
  const parts: Uint8Array[] = [new TextEncoder().encode(suite.text), new Uint8Array(1)];

  if (suite.counter) {
    if (input.counter === undefined) throw badInput(`${suite.text} needs a counter (C)`);
    if (typeof input.counter !== 'bigint' || input.counter < 0n || input.counter > MAX_COUNTER) {
      throw badInput('counter must be an integer in 0..2^64-1');
    }
    parts.push(bigEndian8(input.counter));
  } else if (input.counter !== undefined) {
    throw badInput(`${suite.text} has no counter (C); drop the counter`);
  }

  parts.push(encodeQuestion(suite.question.format, question));

  if (suite.pin) {
    const length = HASH_LENGTH[suite.pin.algorithm];
    if (input.pin !== undefined && input.pinHash !== undefined) throw badInput('give either the PIN or its hash, not both');
    if (input.pin !== undefined) {
      if (typeof input.pin !== 'string' || input.pin.length === 0) throw badInput('PIN must not be empty');
      parts.push(PIN_HASHES[suite.pin.algorithm](new TextEncoder().encode(input.pin)));
    } else if (input.pinHash !== undefined) {
      if (!(input.pinHash instanceof Uint8Array) || input.pinHash.length !== length) {
        throw badInput(`PIN hash must be ${length} bytes (${suite.pin.algorithm})`);
      }
      parts.push(input.pinHash);
    } else {
      throw badInput(`${suite.text} needs a PIN (P${suite.pin.algorithm})`);
    }
  } else if (input.pin !== undefined || input.pinHash !== undefined) {
    throw badInput(`${suite.text} has no PIN (P); drop the PIN`);
  }

  if (suite.session) {
    const length = suite.session.length;
    if (input.session === undefined) throw badInput(`${suite.text} needs session information (S${String(length).padStart(3, '0')})`);
    if (!(input.session instanceof Uint8Array) || input.session.length > length) {
      throw badInput(`session information must be at most ${length} bytes`);
    }
    const s = new Uint8Array(length);
    s.set(input.session, length - input.session.length);
    parts.push(s);
  } else if (input.session !== undefined) {
    throw badInput(`${suite.text} has no session information (S); drop it`);
  }

  if (suite.timestamp) {
    let t: bigint;
    if (input.timestamp !== undefined && input.timeSec !== undefined) throw badInput('give either the timestamp or the time, not both');
    if (input.timestamp !== undefined) {
      t = input.timestamp;
    } else if (input.timeSec !== undefined) {
      if (typeof input.timeSec !== 'bigint' || input.timeSec < 0n) throw badInput('time must be a non-negative number of seconds');
      t = input.timeSec / BigInt(suite.timestamp.stepSec);
    } else {
      throw badInput(`${suite.text} needs a timestamp (T${suite.timestamp.text})`);
    }
    if (typeof t !== 'bigint' || t < 0n || t > MAX_COUNTER) throw badInput('timestamp must be an integer in 0..2^64-1');
    parts.push(bigEndian8(t));
  } else if (input.timestamp !== undefined || input.timeSec !== undefined) {
    throw badInput(`${suite.text} has no timestamp (T); drop it`);
  }

  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function respond(suite: OcraSuite, key: Uint8Array, question: string, input: Omit<OcraInput, 'question'>): string {
  checkKey(key);
  const message = dataInputBytes(suite, question, input);
  const mac = hmacReference(suite.algorithm, key, message);
  if (suite.digits === 0) return bytesToHex(mac);
  return formatCode(dynamicTruncate(mac) % POW10[suite.digits]!, suite.digits);
}

/** The DataInput message for one question (exposed for diagnostics and tests; contains the PIN hash). */
export function ocraDataInput(suite: OcraSuite | string, input: OcraInput): Uint8Array {
  const s = resolveSuite(suite);
  checkChallenge(s, input.question, 'challenge');
  return dataInputBytes(s, input.question, input);
}

/** One-way challenge-response (Section 7.1): the response to `input.question`. */
export function ocra(suite: OcraSuite | string, key: Uint8Array, input: OcraInput): string {
  const s = resolveSuite(suite);
  checkChallenge(s, input.question, 'challenge');
  return respond(s, key, input.question, input);
}

/** Plain signature (Section 7.3): the signature over the challenge `input.question`; the suite may not have S. */
export function ocraSignature(suite: OcraSuite | string, key: Uint8Array, input: OcraInput): string {
  const s = resolveSuite(suite);
  if (s.session) throw badSuite(`${s.text} has session information (S), which a signature suite may not have`);
  return ocra(s, key, input);
}

function mutual(suite: OcraSuite | string, key: Uint8Array, input: OcraMutualInput, server: boolean): string {
  const s = resolveSuite(suite);
  checkChallenge(s, input.clientChallenge, 'client challenge');
  checkChallenge(s, input.serverChallenge, 'server challenge');
  const { clientChallenge, serverChallenge, ...rest } = input;
  const question = server ? clientChallenge + serverChallenge : serverChallenge + clientChallenge;
  return respond(s, key, question, rest);
}

/** Mutual challenge-response (Section 7.2), the server's response R-S over QC|QS. */
export function ocraServerResponse(suite: OcraSuite | string, key: Uint8Array, input: OcraMutualInput): string {
  return mutual(suite, key, input, true);
}

/** Mutual challenge-response (Section 7.2), the client's response R-C over QS|QC. */
export function ocraClientResponse(suite: OcraSuite | string, key: Uint8Array, input: OcraMutualInput): string {
  return mutual(suite, key, input, false);
}
