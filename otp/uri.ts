/**
 * otpauth:// URIs (Google Authenticator "Key Uri Format"; /work/shared/reference/keyuri.json):
 *
 *   otpauth://TYPE/LABEL?PARAMETERS    TYPE = hotp | totp
 *   label = accountname / issuer (":" / "%3A") *"%20" accountname
 *
 * Parsing is strict: the scheme and type are case-insensitive, everything else must follow the format.
 * - `secret` is required (base32, padding optional; see base32.ts).
 * - `counter` is required for hotp and refused for totp; `period` is refused for hotp (the wiki: "OPTIONAL
 *   only if type is totp").
 * - `algorithm` SHA1|SHA256|SHA512 (default SHA1), `digits` 6..10 (default 6; the wiki lists 6 or 8),
 *   `period` a positive integer (default 30).
 * - If both the issuer label prefix and the `issuer` parameter are present they must be equal (the wiki says
 *   they "should be equal"; a mismatch is almost always a mistake that shows the wrong name in an app).
 * - Neither issuer nor account may contain a colon; the account may not be empty; a parameter may not repeat;
 *   a fragment is refused. Unknown parameters (image=, color=, ...) are ignored, as apps do.
 * Errors are `OtpError('INVALID_URI')` (or the code of the bad value, e.g. INVALID_BASE32) and never repeat
 * the URI, which carries the secret.
 *
 * Formatting emits `otpauth://TYPE/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=...&digits=...&counter|period=`
 * with a literal ":" separator, RFC 3986 percent-encoding ("@" left as is, like the wiki examples) and an
 * unpadded base32 secret.
 */
import { decodeBase32, encodeBase32 } from './base32.ts';
import { OtpError } from './errors.ts';
import type { OtpType } from './otp-params.ts';
import { checkCounter, checkDigits, checkKey, MAX_COUNTER, parseHashAlgorithm, type HashAlgorithm } from './params.ts';

/** otpauth:// URIs carry HOTP and TOTP only (Key Uri Format). */
export type UriOtpType = Exclude<OtpType, 'ocra'>;

export interface OtpauthKey {
  type: UriOtpType;
  /** Account name (decoded). */
  account: string;
  /** Issuer (decoded), from the parameter or the label prefix. */
  issuer?: string;
  secret: Uint8Array;
  algorithm: HashAlgorithm;
  digits: number;
  /** hotp only: the initial counter. */
  counter?: bigint;
  /** totp only: the time step in seconds (default 30). */
  periodSec?: number;
}

/** Longest URI accepted: far beyond any real key (a 128-byte secret is 205 base32 characters). */
const MAX_URI_LENGTH = 4096;

function bad(message: string): OtpError {
  return new OtpError('INVALID_URI', `otpauth URI: ${message}`);
}

function decodeComponent(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw bad(`${what} has a malformed %-escape; escape "%" as %25`);
  }
}

function parseDecimal(s: string, what: string, max: bigint): bigint {
  if (!/^[0-9]{1,20}$/.test(s)) throw bad(`${what} must be a non-negative decimal integer`);
  const v = BigInt(s);
  if (v > max) throw bad(`${what} ${s} is too large (at most ${max})`);
  return v;
}

export function parseOtpauthUri(uri: string): OtpauthKey {
  if (typeof uri !== 'string') throw new TypeError('uri: must be a string');
  if (uri.length > MAX_URI_LENGTH) throw bad(`longer than ${MAX_URI_LENGTH} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) throw bad('contains whitespace or a control character; percent-encode spaces as %20');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?(#.*)?$/.exec(uri);
  if (!m) throw bad('expected otpauth://TYPE/LABEL?secret=...');
  const [, scheme, typeText, rawLabel, rawQuery, fragment] = m;
  if (scheme!.toLowerCase() !== 'otpauth') throw bad('scheme must be otpauth://');
  const type = typeText!.toLowerCase();
  if (type !== 'hotp' && type !== 'totp') throw bad(`type must be hotp or totp (otpauth://totp/...)`);
  if (fragment !== undefined) throw bad('a "#" fragment is not allowed; percent-encode "#" as %23');

  // Label: split on the first literal or encoded colon before decoding, so "%3A" and ":" are the same.
  const label = rawLabel!;
  if (label.length === 0) throw bad('the label (account name) is empty; use otpauth://TYPE/ISSUER:ACCOUNT?...');
  const sep = /:|%3A/i.exec(label);
  let labelIssuer: string | undefined;
  let account: string;
  if (sep) {
    labelIssuer = decodeComponent(label.slice(0, sep.index), 'label issuer');
    account = decodeComponent(label.slice(sep.index + sep[0].length), 'label account').replace(/^ +/, '');
    if (labelIssuer.length === 0) throw bad('the label issuer before ":" is empty; drop the ":" or name the issuer');
  } else {
    account = decodeComponent(label, 'label');
  }
  if (account.length === 0) throw bad('the account name in the label is empty');
  if (account.includes(':') || labelIssuer?.includes(':')) throw bad('issuer and account name may not contain a colon (the label has more than one)');

  const params = new Map<string, string>();
  if (rawQuery !== undefined && rawQuery.length > 0) {
    for (const part of rawQuery.split('&')) {
      if (part.length === 0) continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw bad(`parameter "${part.slice(0, 20)}" has no name=value form`);
      const name = decodeComponent(part.slice(0, eq), 'a parameter name').toLowerCase();
      const value = decodeComponent(part.slice(eq + 1).replace(/\+/g, ' '), `parameter ${name}`);
      if (params.has(name)) throw bad(`parameter ${name} appears twice; give it once`);
      params.set(name, value);
    }
  }

  const secretText = params.get('secret');
  if (secretText === undefined || secretText.length === 0) throw bad('the secret parameter is required (secret=BASE32)');
  const secret = decodeBase32(secretText, 'otpauth URI secret');
  checkKey(secret);

  const issuerParam = params.get('issuer');
  if (issuerParam !== undefined && issuerParam.length === 0) throw bad('the issuer parameter is empty; drop it or name the issuer');
  if (issuerParam !== undefined && labelIssuer !== undefined && issuerParam !== labelIssuer) {
    throw bad('the issuer parameter differs from the issuer label prefix; make them equal');
  }
  const issuer = issuerParam ?? labelIssuer;

  const algText = params.get('algorithm');
  let algorithm: HashAlgorithm = 'SHA1';
  if (algText !== undefined) {
    try {
      algorithm = parseHashAlgorithm(algText);
    } catch {
      throw bad('algorithm must be SHA1, SHA256 or SHA512');
    }
  }

  const digitsText = params.get('digits');
  let digits = 6;
  if (digitsText !== undefined) {
    if (!/^[0-9]{1,2}$/.test(digitsText)) throw bad('digits must be an integer 6..10');
    digits = Number(digitsText);
    try {
      checkDigits(digits);
    } catch {
      throw bad(`digits ${digits} is outside 6..10`);
    }
  }

  const counterText = params.get('counter');
  const periodText = params.get('period');
  const key: OtpauthKey = { type, account, secret, algorithm, digits };
  if (issuer !== undefined) key.issuer = issuer;
  if (type === 'hotp') {
    if (counterText === undefined) throw bad('the counter parameter is required for hotp (counter=0 for a new token)');
    if (periodText !== undefined) throw bad('period applies to totp only; drop it from an hotp URI');
    key.counter = parseDecimal(counterText, 'counter', MAX_COUNTER);
  } else {
    if (counterText !== undefined) throw bad('counter applies to hotp only; drop it from a totp URI');
    let periodSec = 30;
    if (periodText !== undefined) {
      periodSec = Number(parseDecimal(periodText, 'period', 1_000_000_000n));
      if (periodSec === 0) throw bad('period must be at least 1 second');
    }
    key.periodSec = periodSec;
  }
  return key;
}

/** RFC 3986 percent-encoding of a label part or parameter value; "@" stays literal as in the wiki examples. */
function encodeComponent(s: string): string {
  return encodeURIComponent(s).replace(/%40/g, '@');
}

export function formatOtpauthUri(key: OtpauthKey): string {
  checkKey(key.secret);
  checkDigits(key.digits);
  if (key.type !== 'hotp' && key.type !== 'totp') throw new OtpError('INVALID_ARGUMENT', 'type: must be hotp or totp');
  if (key.account.length === 0) throw new OtpError('INVALID_ARGUMENT', 'account: must not be empty');
  if (key.account.includes(':') || key.issuer?.includes(':')) {
    throw new OtpError('INVALID_ARGUMENT', 'account/issuer: may not contain a colon (Key Uri Format)');
  }
  if (key.issuer !== undefined && key.issuer.length === 0) throw new OtpError('INVALID_ARGUMENT', 'issuer: must not be empty when given');
  const label = key.issuer !== undefined ? `${encodeComponent(key.issuer)}:${encodeComponent(key.account)}` : encodeComponent(key.account);
  const params = [`secret=${encodeBase32(key.secret)}`];
  if (key.issuer !== undefined) params.push(`issuer=${encodeComponent(key.issuer)}`);
  params.push(`algorithm=${key.algorithm}`, `digits=${key.digits}`);
  if (key.type === 'hotp') {
    const counter = key.counter ?? 0n;
    checkCounter(counter);
    params.push(`counter=${counter}`);
  } else {
    const periodSec = key.periodSec ?? 30;
    if (!Number.isInteger(periodSec) || periodSec < 1) throw new OtpError('INVALID_PERIOD', 'period: must be a positive integer number of seconds');
    params.push(`period=${periodSec}`);
  }
  return `otpauth://${key.type}/${label}?${params.join('&')}`;
}
