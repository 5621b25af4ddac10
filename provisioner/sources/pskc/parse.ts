/**
 * PSKC (RFC 6030) reader in two stages:
 *
 * 1. `parsePskc(xml)` → `PskcContainer`: the structure of the file (encryption method, MAC method, one
 *    `PskcRawKey` per Key with its values still encrypted). Pure; needs no key material; the doctor and
 *    `pskc inspect` without keys work on this.
 * 2. `decryptPskc(container, keys)` → `PskcKey[]`: every value decrypted and every ValueMAC checked
 *    (RFC 6030 Section 6.1.1). All or nothing: one bad MAC fails the whole file.
 *
 * `pskcKeysToSeeds` turns OTP keys (HOTP, TOTP under both URNs, OCRA) into `SeedRecord`s. Element and
 * attribute names are matched on local names so any namespace prefix works; the PBKDF2 parameters are
 * accepted in the RFC's pkcs-5 namespace and in the xenc11 namespace that python-pskc and others write.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { OtpParams, OtpType } from '../../../otp/otp-params.ts';
import { parseHashAlgorithm, type HashAlgorithm } from '../../../otp/params.ts';
import { Secret } from '../../../otp/secret.ts';
import { checkSeedRecord, OTP_FIELD_DEFAULTS, otpParamsFromFields, ProvisionerError, type SeedRecord } from '../../seed.ts';
import { attr, child, childrenNamed, parseXml, path, textAt, type XmlElement, type XmlLimits } from './xml.ts';
import { checkValueMac, cipherFor, decryptValue, derivePbkdf2, hmacFor, PBKDF2_URIS, type DecryptionKey, type Pbkdf2Params } from './crypto.ts';

export const PSKC_NS = 'urn:ietf:params:xml:ns:keyprov:pskc';

/** A value as it sits in the file. */
export type PskcValue =
  | { kind: 'plain'; text: string; line: number }
  | { kind: 'encrypted'; algorithm: string; cipher: Uint8Array; mac?: Uint8Array; oaepHash?: string; line: number };

export type PskcEncryption =
  | { kind: 'none' }
  | { kind: 'preshared'; keyName?: string }
  | { kind: 'pbkdf2'; keyName?: string; params: Omit<Pbkdf2Params, 'keyLength'> & { keyLength?: number }; algorithmUri: string; paramsNs: string; line: number }
  | { kind: 'rsa'; certificate?: string };

export interface PskcMac {
  /** Absent in some writers' files (python-pskc with key wrap writes a MACKey but no Algorithm); then no ValueMAC can be checked. */
  algorithm?: string;
  /** The encrypted MAC key; absent means "use the encryption key" (pre-RFC drafts; python-pskc does the same). */
  key?: PskcValue;
  line: number;
}

export interface PskcRawKey {
  /** 0-based position in the file. */
  index: number;
  line: number;
  keyId?: string;
  algorithm?: string;
  serial?: string;
  manufacturer?: string;
  model?: string;
  deviceUserId?: string;
  issuer?: string;
  friendlyName?: string;
  userId?: string;
  suite?: string;
  responseLength?: number;
  responseEncoding?: string;
  keyProfileId?: string;
  keyReference?: string;
  startDate?: string;
  expiryDate?: string;
  secret?: PskcValue;
  counter?: PskcValue;
  time?: PskcValue;
  timeInterval?: PskcValue;
  timeDrift?: PskcValue;
}

export interface PskcContainer {
  version?: string;
  root: XmlElement;
  encryption: PskcEncryption;
  mac?: PskcMac;
  keys: PskcRawKey[];
}

/** A key with all values decrypted. */
export interface PskcKey extends Omit<PskcRawKey, 'secret' | 'counter' | 'time' | 'timeInterval' | 'timeDrift'> {
  secret?: Secret;
  secretEncrypted: boolean;
  counter?: bigint;
  time?: bigint;
  timeInterval?: bigint;
  timeDrift?: bigint;
}

export interface PskcKeys {
  /** Pre-shared key (hex string or bytes). */
  psk?: Uint8Array | string;
  password?: string;
  /** RSA private key (PEM text or a KeyObject). */
  privateKey?: string | KeyObject;
  /** Accept CBC-encrypted values that carry no ValueMAC (off by default: RFC 6030 6.1.1 says MUST). */
  allowMissingMac?: boolean;
}

function bad(message: string): never {
  throw new ProvisionerError('INVALID_PSKC', message);
}

/** Strict base64: whitespace is ignored (XML line wrapping); anything else that is not base64 is an error. */
export function decodeBase64Strict(text: string, what: string): Uint8Array {
  const s = text.replace(/[\s]+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) bad(`${what}: not valid base64 (unexpected character)`);
  if (s.length % 4 !== 0) bad(`${what}: base64 is truncated (${s.length} characters, not a multiple of 4)`);
  const out = new Uint8Array(Buffer.from(s, 'base64'));
  const expectedLen = (s.length / 4) * 3 - (s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0);
  if (out.length !== expectedLen) bad(`${what}: malformed base64`);
  // Canonical only (RFC 4648 Section 3.5): unused low bits must be zero, so one value has one spelling.
  if (Buffer.from(out).toString('base64') !== s) bad(`${what}: non-canonical base64 (non-zero padding bits)`);
  return out;
}

function keyLabel(k: Pick<PskcRawKey, 'keyId' | 'index' | 'serial'>): string {
  return k.keyId !== undefined ? `key ${k.keyId}` : k.serial !== undefined ? `key of device ${k.serial}` : `key #${k.index + 1}`;
}

function parseEncryptedValue(el: XmlElement, what: string): Extract<PskcValue, { kind: 'encrypted' }> {
  const method = child(el, 'EncryptionMethod');
  const algorithm = attr(child(method, 'EncryptionScheme'), 'Algorithm') ?? attr(method, 'Algorithm');
  if (!algorithm) bad(`${what}: <EncryptionMethod Algorithm=...> is missing (line ${el.line})`);
  const cv = path(el, 'CipherData/CipherValue');
  if (!cv) bad(`${what}: <CipherData><CipherValue> is missing (line ${el.line})`);
  const v: Extract<PskcValue, { kind: 'encrypted' }> = { kind: 'encrypted', algorithm: algorithm.trim(), cipher: decodeBase64Strict(cv.text, `${what} CipherValue (line ${cv.line})`), line: el.line };
  const digest = attr(child(method, 'DigestMethod'), 'Algorithm');
  if (digest) {
    const h = /sha(1|224|256|384|512)$/i.exec(digest)?.[1];
    if (!h) throw new ProvisionerError('INVALID_UNSUPPORTED', `${what}: OAEP digest ${digest} is not supported`);
    v.oaepHash = `sha${h}`;
  }
  return v;
}

function parseData(el: XmlElement | undefined, what: string): PskcValue | undefined {
  if (!el) return undefined;
  const plain = child(el, 'PlainValue');
  const enc = child(el, 'EncryptedValue');
  const macText = textAt(el, 'ValueMAC') ?? textAt(el, 'ValueDigest');
  if (plain && enc) bad(`${what}: has both PlainValue and EncryptedValue (line ${el.line})`);
  if (plain) return { kind: 'plain', text: plain.text.trim(), line: plain.line };
  if (enc) {
    const v = parseEncryptedValue(enc, what);
    if (macText !== undefined) v.mac = decodeBase64Strict(macText, `${what} ValueMAC`);
    return v;
  }
  bad(`${what}: <${el.local}> has neither PlainValue nor EncryptedValue (line ${el.line})`);
}

function parseIntAttr(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\s*\d{1,9}\s*$/.test(v)) bad(`${what}: "${v.slice(0, 20)}" is not a number`);
  return parseInt(v, 10);
}

function parsePrf(el: XmlElement | undefined): Pbkdf2Params['prf'] {
  const uri = attr(el, 'Algorithm');
  if (!uri) return 'sha1';
  const h = hmacFor(uri);
  if (!h) throw new ProvisionerError('INVALID_UNSUPPORTED', `PBKDF2: PRF ${uri} is not supported (use HMAC-SHA1/256/512)`);
  return h;
}

function parseEncryptionKey(ek: XmlElement | undefined): PskcEncryption {
  if (!ek) return { kind: 'none' };
  const derived = child(ek, 'DerivedKey');
  if (derived) {
    const method = child(derived, 'KeyDerivationMethod');
    const algorithmUri = attr(method, 'Algorithm')?.trim() ?? '';
    const keyName = textAt(derived, 'MasterKeyName') ?? textAt(derived, 'CarriedKeyName');
    if (!(PBKDF2_URIS as readonly string[]).includes(algorithmUri) && !algorithmUri.toLowerCase().endsWith('#pbkdf2')) {
      throw new ProvisionerError('INVALID_UNSUPPORTED', `EncryptionKey: key derivation ${algorithmUri || '(no Algorithm)'} is not supported; only PBKDF2 is (line ${method?.line ?? derived.line})`);
    }
    const params = child(method, 'PBKDF2-params');
    if (!params) bad(`EncryptionKey: DerivedKey uses PBKDF2 but has no <PBKDF2-params> (line ${method?.line ?? derived.line})`);
    const saltText = textAt(params, 'Salt/Specified');
    if (saltText === undefined) bad(`PBKDF2-params: <Salt><Specified> is missing (line ${params.line})`);
    const iterations = parseIntAttr(textAt(params, 'IterationCount'), 'PBKDF2 IterationCount');
    if (iterations === undefined) bad(`PBKDF2-params: <IterationCount> is missing (line ${params.line})`);
    const keyLength = parseIntAttr(textAt(params, 'KeyLength'), 'PBKDF2 KeyLength');
    const p: PskcEncryption = {
      kind: 'pbkdf2',
      algorithmUri,
      paramsNs: params.ns,
      line: params.line,
      params: { salt: decodeBase64Strict(saltText, 'PBKDF2 Salt'), iterations, prf: parsePrf(child(params, 'PRF')), ...(keyLength !== undefined ? { keyLength } : {}) },
    };
    if (keyName !== undefined) p.keyName = keyName;
    return p;
  }
  const x509 = child(ek, 'X509Data');
  if (x509) {
    const cert = textAt(x509, 'X509Certificate');
    return cert !== undefined ? { kind: 'rsa', certificate: cert.replace(/\s+/g, '') } : { kind: 'rsa' };
  }
  const keyName = textAt(ek, 'KeyName');
  return keyName !== undefined ? { kind: 'preshared', keyName } : { kind: 'preshared' };
}

/** Stage 1: structure only. Throws ProvisionerError for unsafe or malformed XML and for a non-PSKC document. */
export function parsePskc(xml: string, limits: XmlLimits = {}): PskcContainer {
  const root = parseXml(xml, limits);
  if (root.local !== 'KeyContainer') bad(`PSKC: the root element is <${root.name}>, expected <KeyContainer> (RFC 6030 Section 4)`);
  const encryption = parseEncryptionKey(child(root, 'EncryptionKey'));
  const macEl = child(root, 'MACMethod');
  let mac: PskcMac | undefined;
  if (macEl) {
    const algorithm = attr(macEl, 'Algorithm')?.trim();
    mac = algorithm ? { algorithm, line: macEl.line } : { line: macEl.line };
    const mk = child(macEl, 'MACKey');
    if (mk) mac.key = parseEncryptedValue(mk, 'the MAC key');
  }
  const keys: PskcRawKey[] = [];
  for (const pkg of childrenNamed(root, 'KeyPackage')) {
    const info = child(pkg, 'DeviceInfo') ?? child(pkg, 'DeviceId');
    for (const keyEl of [...childrenNamed(pkg, 'Key'), ...childrenNamed(pkg, 'Secret')]) {
      const k: PskcRawKey = { index: keys.length, line: keyEl.line };
      const set = <K extends keyof PskcRawKey>(name: K, v: PskcRawKey[K] | undefined): void => {
        if (v !== undefined) k[name] = v;
      };
      set('keyId', attr(keyEl, 'Id') ?? attr(keyEl, 'KeyId'));
      set('algorithm', (attr(keyEl, 'Algorithm') ?? attr(keyEl, 'KeyAlgorithm'))?.trim());
      set('serial', textAt(info, 'SerialNo'));
      set('manufacturer', textAt(info, 'Manufacturer'));
      set('model', textAt(info, 'Model'));
      set('deviceUserId', textAt(info, 'UserId'));
      set('issuer', textAt(keyEl, 'Issuer'));
      set('friendlyName', textAt(keyEl, 'FriendlyName'));
      set('userId', textAt(keyEl, 'UserId'));
      set('keyProfileId', textAt(keyEl, 'KeyProfileId'));
      set('keyReference', textAt(keyEl, 'KeyReference'));
      set('suite', textAt(keyEl, 'AlgorithmParameters/Suite'));
      const rf = path(keyEl, 'AlgorithmParameters/ResponseFormat') ?? path(keyEl, 'Usage/ResponseFormat');
      set('responseLength', parseIntAttr(attr(rf, 'Length'), `${keyLabel(k)} ResponseFormat Length`));
      set('responseEncoding', attr(rf, 'Encoding') ?? attr(rf, 'Format'));
      set('startDate', textAt(keyEl, 'Policy/StartDate') ?? textAt(keyEl, 'StartDate') ?? textAt(info, 'StartDate'));
      set('expiryDate', textAt(keyEl, 'Policy/ExpiryDate') ?? textAt(keyEl, 'ExpiryDate') ?? textAt(info, 'ExpiryDate'));
      const data = child(keyEl, 'Data');
      const label = keyLabel(k);
      set('secret', parseData(child(data, 'Secret'), `the secret of ${label}`));
      set('counter', parseData(child(data, 'Counter'), `the counter of ${label}`));
      set('time', parseData(child(data, 'Time'), `the time of ${label}`));
      set('timeInterval', parseData(child(data, 'TimeInterval'), `the time interval of ${label}`));
      set('timeDrift', parseData(child(data, 'TimeDrift'), `the time drift of ${label}`));
      keys.push(k);
    }
  }
  const c: PskcContainer = { root, encryption, keys };
  const version = attr(root, 'Version');
  if (version !== undefined) c.version = version;
  if (mac) c.mac = mac;
  return c;
}

function toPrivateKey(k: string | KeyObject): KeyObject {
  if (typeof k !== 'string') return k;
  try {
    return createPrivateKey(k);
  } catch (e) {
    throw new ProvisionerError('INVALID_ARGUMENT', 'private key: not a readable PEM private key (give an unencrypted PKCS#8 or PKCS#1 PEM file)', { cause: e });
  }
}

function pskBytes(psk: Uint8Array | string): Uint8Array {
  if (psk instanceof Uint8Array) return psk;
  const s = psk.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2 !== 0 || s.length === 0) {
    throw new ProvisionerError('INVALID_ARGUMENT', '--psk: must be the pre-shared key in hex (an even number of hex digits, e.g. 32 digits for AES-128)');
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** The cipher key length the file's first symmetric encrypted value needs (for PBKDF2 without KeyLength). */
function firstSymmetricKeyBytes(c: PskcContainer): number | undefined {
  const values: (PskcValue | undefined)[] = [c.mac?.key];
  for (const k of c.keys) values.push(k.secret, k.counter, k.time, k.timeInterval, k.timeDrift);
  for (const v of values) {
    if (v?.kind !== 'encrypted') continue;
    const alg = cipherFor(v.algorithm);
    if (alg && alg.kind !== 'rsa') return alg.keyBytes;
  }
  return undefined;
}

function hasEncryptedValues(c: PskcContainer): boolean {
  return c.keys.some((k) => [k.secret, k.counter, k.time, k.timeInterval, k.timeDrift].some((v) => v?.kind === 'encrypted'));
}

function decodeInteger(bytes: Uint8Array, what: string): bigint {
  // python-pskc writes encrypted integers big-endian; older files use ASCII digits.
  const ascii = Buffer.from(bytes).toString('latin1');
  if (/^\d{1,20}$/.test(ascii)) return BigInt(ascii);
  if (bytes.length > 8) bad(`${what}: decrypted integer is ${bytes.length} bytes, more than 8`);
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function parsePlainInteger(text: string, what: string): bigint {
  if (/^-?\d{1,20}$/.test(text)) return BigInt(text);
  bad(`${what}: "${text.slice(0, 24)}" is not a decimal integer`);
}

/** Stage 2: decrypt every value and check every MAC. All or nothing. */
export function decryptPskc(c: PskcContainer, keys: PskcKeys = {}): PskcKey[] {
  let key: DecryptionKey | undefined;
  const needsKey = hasEncryptedValues(c) || c.mac?.key !== undefined;
  if (needsKey) {
    if (c.encryption.kind === 'pbkdf2') {
      if (keys.password === undefined) {
        throw new ProvisionerError('INVALID_NEEDS_KEY', `the file is encrypted with a password-derived key (PBKDF2${c.encryption.keyName ? `, "${c.encryption.keyName}"` : ''}); give the password with --password`);
      }
      const keyLength = c.encryption.params.keyLength ?? firstSymmetricKeyBytes(c) ?? 16;
      key = { kind: 'symmetric', key: derivePbkdf2(keys.password, { ...c.encryption.params, keyLength }), source: 'password' };
    } else if (c.encryption.kind === 'rsa') {
      if (keys.privateKey === undefined) {
        throw new ProvisionerError('INVALID_NEEDS_KEY', 'the file is encrypted to an RSA certificate (RFC 6030 Section 6.3); this needs the private key: pass --private-key FILE (PEM)');
      }
      key = { kind: 'private', key: toPrivateKey(keys.privateKey) };
    } else if (keys.psk !== undefined) {
      key = { kind: 'symmetric', key: pskBytes(keys.psk), source: 'psk' };
    } else if (keys.privateKey !== undefined) {
      key = { kind: 'private', key: toPrivateKey(keys.privateKey) };
    } else if (keys.password !== undefined) {
      throw new ProvisionerError('INVALID_NEEDS_KEY', `the file is encrypted with a pre-shared key${c.encryption.kind === 'preshared' && c.encryption.keyName ? ` ("${c.encryption.keyName}")` : ''}, not a password; give it with --psk HEX`);
    } else {
      throw new ProvisionerError('INVALID_NEEDS_KEY', `the file is encrypted with a pre-shared key${c.encryption.kind === 'preshared' && c.encryption.keyName ? ` ("${c.encryption.keyName}")` : ''}; give it with --psk HEX`);
    }
  }
  let macKey: Uint8Array | undefined;
  const macKeyFor = (): Uint8Array => {
    if (macKey) return macKey;
    if (!c.mac) bad('a value carries a ValueMAC but the file has no <MACMethod>');
    if (c.mac.key) {
      if (c.mac.key.kind !== 'encrypted') bad('MACKey must be encrypted');
      macKey = decryptValue(c.mac.key.algorithm, key, c.mac.key.cipher, 'the MAC key (MACMethod/MACKey)');
    } else {
      if (!key || key.kind !== 'symmetric') bad('MACMethod has no MACKey and there is no symmetric encryption key to use instead');
      macKey = key.key;
    }
    return macKey;
  };
  const open = (v: Extract<PskcValue, { kind: 'encrypted' }>, what: string): Uint8Array => {
    const alg = cipherFor(v.algorithm);
    if (v.mac) {
      if (!c.mac) bad(`${what}: has a ValueMAC but the file has no <MACMethod>`);
      if (!c.mac.algorithm) bad(`${what}: has a ValueMAC but <MACMethod> has no Algorithm, so it cannot be checked (line ${c.mac.line})`);
      checkValueMac(c.mac.algorithm, macKeyFor(), v.cipher, v.mac, what);
    } else if (alg?.kind === 'cbc' && !keys.allowMissingMac) {
      throw new ProvisionerError('INVALID_MAC', `${what}: is CBC-encrypted but has no ValueMAC, so tampering cannot be detected (RFC 6030 Section 6.1.1 requires one); refusing it`);
    }
    return decryptValue(v.algorithm, key, v.cipher, what, v.oaepHash);
  };
  const out: PskcKey[] = [];
  try {
    for (const k of c.keys) {
      const label = keyLabel(k);
      const { secret, counter, time, timeInterval, timeDrift, ...rest } = k;
      const dk: PskcKey = { ...rest, secretEncrypted: secret?.kind === 'encrypted' };
      if (secret) {
        if (secret.kind === 'plain') dk.secret = new Secret(decodeBase64Strict(secret.text, `the secret of ${label} (line ${secret.line})`));
        else dk.secret = new Secret(open(secret, `the secret of ${label}`));
      }
      const ints: [keyof PskcKey & ('counter' | 'time' | 'timeInterval' | 'timeDrift'), PskcValue | undefined, string][] = [
        ['counter', counter, 'counter'],
        ['time', time, 'time'],
        ['timeInterval', timeInterval, 'time interval'],
        ['timeDrift', timeDrift, 'time drift'],
      ];
      for (const [name, v, words] of ints) {
        if (!v) continue;
        const what = `the ${words} of ${label}`;
        dk[name] = v.kind === 'plain' ? parsePlainInteger(v.text, what) : decodeInteger(open(v, what), what);
      }
      out.push(dk);
    }
  } catch (e) {
    for (const k of out) k.secret?.wipe();
    throw e;
  } finally {
    macKey?.fill(0);
    // Wipe key bytes we made (derived, or decoded from hex); never the caller's own array.
    if (key?.kind === 'symmetric' && (key.source === 'password' || typeof keys.psk === 'string')) key.key.fill(0);
  }
  return out;
}

// ---- PSKC keys → seed records ----

export type KeyKind = OtpType | 'pin' | 'unknown';

/** Classifies an algorithm URN: RFC 6030 Section 10 (hotp, pin), the TOTP URNs in both spellings, OCRA. */
export function keyKind(algorithm: string | undefined): KeyKind {
  if (!algorithm) return 'unknown';
  const a = algorithm.toLowerCase();
  if (!a.startsWith('urn:ietf:params:xml:ns:keyprov:pskc')) return 'unknown';
  const tail = a.slice('urn:ietf:params:xml:ns:keyprov:pskc'.length);
  if (tail === ':hotp' || tail === '#hotp') return 'hotp';
  if (tail === ':totp' || tail === '#totp') return 'totp';
  if (tail === ':pin' || tail === '#pin') return 'pin';
  if (/^[:#]ocra/.test(tail)) return 'ocra';
  return 'unknown';
}

function suiteHash(suite: string | undefined): HashAlgorithm | undefined {
  if (!suite) return undefined;
  const m = /SHA-?(1|256|512)\b/i.exec(suite);
  return m ? parseHashAlgorithm(`SHA${m[1]}`) : undefined;
}

function ocraSuiteOf(k: PskcKey): string | undefined {
  if (k.suite && /^OCRA-1:/i.test(k.suite)) return k.suite;
  const m = /[:#](OCRA-1:.*)$/i.exec(k.algorithm ?? '');
  return m?.[1];
}

export interface SeedConversionOptions {
  /** Expected TOTP period; TimeInterval absent ⇒ this (default 30). */
  defaultPeriodSec?: number;
}

/**
 * The parameters of an OTP key: OCRA from its suite (with the Counter when the suite has a C input); HOTP and
 * TOTP from the ResponseFormat Length, the hash named in the Suite, Counter, Time and TimeInterval.
 */
function keyParams(k: PskcKey, kind: OtpType, label: string, opts: SeedConversionOptions): OtpParams {
  const suite = kind === 'ocra' ? ocraSuiteOf(k) : undefined;
  if (kind === 'ocra' && !suite) throw new ProvisionerError('INVALID_PSKC', `${label}: OCRA key without an OCRA suite (AlgorithmParameters/Suite)`);
  try {
    const d = OTP_FIELD_DEFAULTS;
    const f = {
      type: kind,
      algorithm: suiteHash(k.suite) ?? d.algorithm,
      digits: k.responseLength ?? d.digits,
      periodSec: kind === 'totp' && k.timeInterval !== undefined ? Number(k.timeInterval) : (opts.defaultPeriodSec ?? d.periodSec),
      t0Sec: k.time ?? d.t0Sec,
      counter: k.counter ?? d.counter,
    };
    return otpParamsFromFields(suite === undefined ? f : { ...f, suite });
  } catch (e) {
    throw new ProvisionerError('INVALID_PSKC', `${label}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** One SeedRecord per OTP key (PIN keys are skipped). Errors for keys without a secret or with an unknown algorithm. */
export function pskcKeysToSeeds(keys: PskcKey[], opts: SeedConversionOptions = {}): SeedRecord[] {
  const out: SeedRecord[] = [];
  for (const k of keys) {
    const label = keyLabel(k);
    const kind = keyKind(k.algorithm);
    if (kind === 'pin') continue;
    if (kind === 'unknown') {
      throw new ProvisionerError('INVALID_UNSUPPORTED', `${label}: algorithm ${k.algorithm ?? '(none)'} is not an OTP algorithm we load (urn:ietf:params:xml:ns:keyprov:pskc:hotp, ...:pskc:totp or ...:pskc#totp, OCRA)`);
    }
    if (!k.secret) {
      throw new ProvisionerError('INVALID_NO_SECRET', `${label}: no secret present${k.keyReference !== undefined || k.keyProfileId !== undefined ? ' (it is derived out of band from a KeyProfileId/KeyReference, RFC 6030 Section 4.4)' : ''}; this file cannot load a token`);
    }
    if (k.responseEncoding !== undefined && k.responseEncoding.toUpperCase() !== 'DECIMAL') {
      throw new ProvisionerError('INVALID_UNSUPPORTED', `${label}: ResponseFormat Encoding ${k.responseEncoding} is not supported; only DECIMAL codes are`);
    }
    const otp = keyParams(k, kind, label, opts);
    const serial = k.serial ?? k.keyId;
    if (serial === undefined || serial === '') throw new ProvisionerError('INVALID_SEED', `${label}: no serial number (DeviceInfo/SerialNo) and no Key Id to use instead`);
    const r: SeedRecord = { serial, secret: k.secret, otp };
    if (k.keyId !== undefined) r.keyId = k.keyId;
    if (k.userId !== undefined) r.user = k.userId;
    if (k.friendlyName !== undefined) r.label = k.friendlyName;
    if (k.issuer !== undefined) r.issuer = k.issuer;
    if (k.manufacturer !== undefined) r.manufacturer = k.manufacturer;
    checkSeedRecord(r, label);
    out.push(r);
  }
  return out;
}

/** parse + decrypt + convert, for callers that just want seeds from PSKC text. */
export function pskcToSeeds(xml: string, keys: PskcKeys = {}, opts: SeedConversionOptions & { limits?: XmlLimits } = {}): SeedRecord[] {
  const container = parsePskc(xml, opts.limits);
  const decrypted = decryptPskc(container, keys);
  try {
    const seeds = pskcKeysToSeeds(decrypted, opts);
    const kept = new Set(seeds.map((s) => s.secret));
    for (const k of decrypted) if (k.secret && !kept.has(k.secret)) k.secret.wipe(); // PIN keys
    return seeds;
  } catch (e) {
    for (const k of decrypted) k.secret?.wipe();
    throw e;
  }
}
