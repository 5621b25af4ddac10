/**
 * `pskc doctor`: explains in plain words what is wrong with a vendor PSKC file, instead of failing on the
 * first problem. Pure: takes the text (and optionally key material and the current time) and returns
 * findings; the CLI prints them. Every finding has a stable `code` (tests assert codes, not wording).
 *
 * Severity: `error` = the file cannot be loaded as it is (or a load would be unsafe); `warning` = it loads,
 * but something is likely to go wrong later (a 60 s step where 30 s was expected, duplicate serials, ...);
 * `info` = worth knowing.
 */
import { ProvisionerError } from '../../seed.ts';
import { cipherFor, hmacFor, PBKDF2_URIS, PKCS5_NS, XMLDSIG } from './crypto.ts';
import { decodeBase64Strict, decryptPskc, keyKind, parsePskc, PSKC_NS, type PskcContainer, type PskcKeys, type PskcValue } from './parse.ts';
import { child, type XmlLimits } from './xml.ts';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  severity: Severity;
  code: string;
  message: string;
  keyId?: string;
  line?: number;
}

export interface DoctorOptions {
  keys?: PskcKeys;
  /** The current time (for validity dates); default: dates are not checked. */
  now?: Date;
  /** The TOTP step the verifier expects (default 30). */
  expectedPeriodSec?: number;
  limits?: XmlLimits;
}

export function diagnosePskc(xml: string, opts: DoctorOptions = {}): Finding[] {
  const out: Finding[] = [];
  const add = (severity: Severity, code: string, message: string, where: { keyId?: string | undefined; line?: number | undefined } = {}): void => {
    const f: Finding = { severity, code, message };
    if (where.keyId !== undefined) f.keyId = where.keyId;
    if (where.line !== undefined) f.line = where.line;
    out.push(f);
  };
  let c: PskcContainer;
  try {
    c = parsePskc(xml, opts.limits);
  } catch (e) {
    if (e instanceof ProvisionerError) {
      const code = e.code === 'INVALID_UNSAFE_XML' ? 'UNSAFE_XML' : e.code === 'INVALID_TOO_LARGE' ? 'TOO_LARGE' : e.code === 'INVALID_UNSUPPORTED' ? 'UNSUPPORTED' : 'MALFORMED';
      add('error', code, e.message);
      return out;
    }
    throw e;
  }
  const root = c.root;
  if (root.ns !== PSKC_NS) add('error', 'WRONG_NAMESPACE', `<KeyContainer> is in namespace "${root.ns}", not ${PSKC_NS}; strict readers will not recognise the file`, { line: root.line });
  if (c.version === undefined) add('warning', 'NO_VERSION', 'KeyContainer has no Version attribute (RFC 6030 requires Version="1.0")', { line: root.line });
  else if (c.version !== '1.0') add('warning', 'VERSION', `KeyContainer Version is "${c.version}", expected "1.0"`, { line: root.line });
  if (root.attrs.has('id')) add('warning', 'LOWERCASE_ID', 'KeyContainer has a lower-case "id" attribute; the schema defines "Id" (schema validation fails, as for RFC 6030 Figure 8)', { line: root.line });
  const sig = child(root, 'Signature');
  if (sig && sig.ns !== XMLDSIG) add('warning', 'SIGNATURE_NAMESPACE', `<Signature> is in namespace "${sig.ns}"; it belongs in ${XMLDSIG} (RFC 6030 erratum 3418). Signatures are not verified by tokenforge`, { line: sig.line });

  // ---- encryption and MAC ----
  const values: { v: PskcValue; keyId: string | undefined; what: string }[] = [];
  for (const k of c.keys) {
    for (const [name, v] of [['secret', k.secret], ['counter', k.counter], ['time', k.time], ['time interval', k.timeInterval], ['time drift', k.timeDrift]] as const) {
      if (v) values.push({ v, keyId: k.keyId, what: name });
    }
  }
  const encrypted = values.filter((x) => x.v.kind === 'encrypted');
  const enc = c.encryption;
  if (encrypted.length > 0 && enc.kind === 'none') {
    add('warning', 'NO_ENCRYPTION_KEY', 'values are encrypted but the file has no <EncryptionKey> saying with what; the pre-shared key must come out of band (--psk)');
  }
  if (enc.kind === 'pbkdf2') {
    if (enc.paramsNs !== PKCS5_NS) {
      add('warning', 'PBKDF2_NAMESPACE', `<PBKDF2-params> is in namespace "${enc.paramsNs || '(none)'}"; RFC 6030 Figure 7 puts it in ${PKCS5_NS} (python-pskc and some vendors write the xenc11 one). tokenforge accepts both, strict importers may not`, { line: enc.line });
    }
    if (enc.algorithmUri !== PBKDF2_URIS[0]) add('info', 'PBKDF2_URI', `key derivation URI ${enc.algorithmUri} is an alternative spelling of ${PBKDF2_URIS[0]}; accepted`, { line: enc.line });
    if (enc.params.iterations < 1000) add('warning', 'PBKDF2_WEAK', `PBKDF2 IterationCount ${enc.params.iterations} is below 1000; the password is easy to brute-force`, { line: enc.line });
    if (enc.params.keyLength === undefined) add('warning', 'PBKDF2_NO_KEYLENGTH', 'PBKDF2-params has no KeyLength; the key length is taken from the encryption algorithm', { line: enc.line });
  }
  for (const x of encrypted) {
    if (x.v.kind !== 'encrypted') continue;
    const alg = cipherFor(x.v.algorithm);
    if (!alg) add('error', 'UNKNOWN_ENCRYPTION', `the ${x.what} is encrypted with ${x.v.algorithm}, which is not supported`, { keyId: x.keyId, line: x.v.line });
    else if (alg.kind === 'rsa' && enc.kind !== 'rsa') add('warning', 'RSA_WITHOUT_CERT', `the ${x.what} is RSA-encrypted but <EncryptionKey> has no X509 certificate naming the key`, { keyId: x.keyId, line: x.v.line });
    if (alg?.kind === 'cbc' && !x.v.mac) add('error', 'MAC_MISSING', `the ${x.what} is CBC-encrypted without a ValueMAC: tampering cannot be detected (RFC 6030 Section 6.1.1 requires a MAC); it will be refused`, { keyId: x.keyId, line: x.v.line });
    if (x.v.mac && !c.mac) add('error', 'NO_MAC_METHOD', `the ${x.what} has a ValueMAC but the file has no <MACMethod>, so it cannot be checked`, { keyId: x.keyId, line: x.v.line });
  }
  if (c.mac) {
    if (!c.mac.algorithm) {
      add(encrypted.some((x) => x.v.kind === 'encrypted' && x.v.mac) ? 'error' : 'warning', 'MAC_NO_ALGORITHM', '<MACMethod> has no Algorithm attribute; no ValueMAC can be checked against it', { line: c.mac.line });
    } else if (!hmacFor(c.mac.algorithm)) add('error', 'UNKNOWN_MAC', `MACMethod algorithm ${c.mac.algorithm} is not supported (HMAC-SHA1/224/256/384/512 are)`, { line: c.mac.line });
    if (!c.mac.key) add('warning', 'MAC_KEY_MISSING', '<MACMethod> has no <MACKey>: the encryption key is used as the MAC key (pre-RFC drafts); RFC 6030 sends a separate MAC key encrypted in MACKey', { line: c.mac.line });
    else if (c.mac.key.kind === 'encrypted' && !cipherFor(c.mac.key.algorithm)) add('error', 'UNKNOWN_ENCRYPTION', `the MAC key is encrypted with ${c.mac.key.algorithm}, which is not supported`, { line: c.mac.line });
  }

  // ---- keys ----
  if (c.keys.length === 0) add('error', 'NO_KEYS', 'the file contains no <KeyPackage><Key>');
  const ids = new Map<string, number>();
  const serials = new Map<string, string[]>();
  const expected = opts.expectedPeriodSec ?? 30;
  for (const k of c.keys) {
    const where = { keyId: k.keyId, line: k.line };
    const label = k.keyId !== undefined ? `key ${k.keyId}` : `key #${k.index + 1}`;
    if (k.keyId === undefined) add('warning', 'NO_KEY_ID', `${label} has no Id attribute (the schema requires one)`, where);
    else ids.set(k.keyId, (ids.get(k.keyId) ?? 0) + 1);
    const kind = keyKind(k.algorithm);
    if (kind === 'unknown') {
      const hint = k.algorithm && /hotp/i.test(k.algorithm) ? ` (did you mean urn:ietf:params:xml:ns:keyprov:pskc:hotp?)` : k.algorithm && /totp/i.test(k.algorithm) ? ' (did you mean urn:ietf:params:xml:ns:keyprov:pskc:totp?)' : '';
      add('error', 'UNKNOWN_ALGORITHM', `${label}: algorithm URN ${k.algorithm ?? '(missing)'} is unknown${hint}`, where);
      continue;
    }
    if (kind === 'pin') {
      add('info', 'PIN_KEY', `${label} is a PIN (urn:...:pskc:pin), not an OTP seed; it is skipped when loading tokens`, where);
      continue;
    }
    if (k.serial === undefined) add('warning', 'NO_SERIAL', `${label}: no DeviceInfo/SerialNo; the Key Id${k.keyId !== undefined ? ` "${k.keyId}"` : ''} will be used as the token serial`, where);
    else serials.set(k.serial, [...(serials.get(k.serial) ?? []), k.keyId ?? `#${k.index + 1}`]);
    if (!k.secret) {
      add('error', 'NO_SECRET', `${label}: no <Secret>${k.keyReference !== undefined || k.keyProfileId !== undefined ? ' - it is derived out of band (KeyProfileId/KeyReference, RFC 6030 Section 4.4), which tokenforge cannot do' : ''}`, where);
    } else if (k.secret.kind === 'plain') {
      const t = k.secret.text.replace(/\s+/g, '');
      if (/^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 1) {
        add('error', 'ODD_LENGTH_SECRET', `${label}: the secret "PlainValue" is an odd number (${t.length}) of hex digits; it must be base64 (RFC 6030 uses xs:base64Binary), and as hex it would be half a byte short`, where);
      } else {
        try {
          const bytes = decodeBase64Strict(k.secret.text, `${label} secret`);
          if (/^[0-9a-fA-F]{32,}$/.test(t)) add('warning', 'SECRET_LOOKS_HEX', `${label}: the secret PlainValue looks like hex text, but PSKC secrets are base64; the decoded seed would be wrong`, where);
          if (bytes.length < 16) add('warning', 'SHORT_SECRET', `${label}: the secret is ${bytes.length} bytes; RFC 4226 asks for at least 16 (20 recommended)`, where);
          bytes.fill(0);
        } catch (e) {
          add('error', 'BAD_BASE64', e instanceof Error ? e.message : String(e), where);
        }
      }
    }
    if (k.responseLength === undefined) add('warning', 'NO_RESPONSE_FORMAT', `${label}: no ResponseFormat; 6 digits are assumed`, where);
    else if ((k.responseLength < 6 || k.responseLength > 10) && kind !== 'ocra') add('error', 'BAD_DIGITS', `${label}: ResponseFormat Length ${k.responseLength} is outside 6..10`, where);
    if (k.responseEncoding !== undefined && k.responseEncoding.toUpperCase() !== 'DECIMAL') add('error', 'BAD_ENCODING', `${label}: ResponseFormat Encoding ${k.responseEncoding} is not supported (DECIMAL only)`, where);
    if (k.suite && kind !== 'ocra' && !/SHA-?(1|256|512)\b/i.test(k.suite)) add('warning', 'UNKNOWN_SUITE', `${label}: AlgorithmParameters/Suite "${k.suite}" names no hash we know; HMAC-SHA1 is assumed`, where);
    if (kind === 'totp') {
      if (k.counter) add('warning', 'COUNTER_ON_TOTP', `${label}: a Counter on a TOTP key is meaningless and is ignored`, where);
      if (!k.timeInterval) add('warning', 'NO_TIME_INTERVAL', `${label}: TOTP key without TimeInterval; ${expected} s is assumed`, where);
      else if (k.timeInterval.kind === 'plain') {
        const step = Number(k.timeInterval.text);
        if (!Number.isInteger(step) || step <= 0) add('error', 'BAD_TIME_INTERVAL', `${label}: TimeInterval "${k.timeInterval.text.slice(0, 20)}" is not a positive number of seconds`, where);
        else if (step !== expected) add('warning', 'UNEXPECTED_STEP', `${label}: ${step} s time step where ${expected} s was expected; configure the verifier for ${step} s or the codes will not match`, where);
      }
    } else {
      if (!k.counter && kind === 'hotp') add('warning', 'NO_COUNTER', `${label}: HOTP key without a Counter; 0 is assumed`, where);
      if (k.timeInterval && kind === 'hotp') add('warning', 'TIME_ON_HOTP', `${label}: a TimeInterval on an HOTP key is ignored`, where);
    }
    if (opts.now) {
      const now = opts.now.getTime();
      if (k.expiryDate !== undefined && Date.parse(k.expiryDate) < now) add('warning', 'EXPIRED', `${label}: expired on ${k.expiryDate}`, where);
      if (k.startDate !== undefined && Date.parse(k.startDate) > now) add('warning', 'NOT_YET_VALID', `${label}: not valid before ${k.startDate}`, where);
    }
  }
  for (const [id, n] of ids) if (n > 1) add('error', 'DUPLICATE_ID', `Key Id "${id}" is used by ${n} keys; Ids must be unique`, { keyId: id });
  for (const [serial, keys] of serials) {
    if (keys.length > 1) add('warning', 'DUPLICATE_SERIAL', `serial ${serial} carries ${keys.length} keys (${keys.join(', ')}); a provisioner cannot tell which seed goes into which token slot`);
  }

  // ---- decryption (only with key material) ----
  if (encrypted.length > 0 || c.mac?.key) {
    if (opts.keys && (opts.keys.psk !== undefined || opts.keys.password !== undefined || opts.keys.privateKey !== undefined)) {
      try {
        const keys = decryptPskc(c, { ...opts.keys, allowMissingMac: true });
        for (const k of keys) {
          if (k.secretEncrypted && k.secret && k.secret.length < 16) add('warning', 'SHORT_SECRET', `key ${k.keyId ?? `#${k.index + 1}`}: the decrypted secret is ${k.secret.length} bytes; RFC 4226 asks for at least 16`, { keyId: k.keyId });
          k.secret?.wipe();
        }
        add('info', 'DECRYPTED', 'every encrypted value decrypted with the key given, and every ValueMAC present matched');
      } catch (e) {
        if (!(e instanceof ProvisionerError)) throw e;
        add('error', e.code === 'INVALID_MAC' ? 'MAC_MISMATCH' : e.code === 'INVALID_NEEDS_KEY' ? 'NEEDS_KEY' : 'DECRYPTION_FAILED', e.message);
      }
    } else {
      add('info', 'ENCRYPTED', `the file is encrypted (${enc.kind === 'pbkdf2' ? 'password' : enc.kind === 'rsa' ? 'RSA certificate' : 'pre-shared key'}); pass ${enc.kind === 'pbkdf2' ? '--password' : enc.kind === 'rsa' ? '--private-key' : '--psk'} to check decryption and MACs too`);
    }
  }
  return out;
}
