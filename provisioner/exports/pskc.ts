/**
 * PSKC writer (RFC 6030), for handing seeds to another verification server.
 *
 * Protection (RFC 6030 Section 6):
 * - `psk`: secrets encrypted with AES-CBC under the pre-shared key (AES-128/192/256 by key length), each with a
 *   fresh IV; a random 32-byte MAC key travels encrypted under the same key in MACMethod/MACKey, and every
 *   encrypted value gets a ValueMAC = HMAC-SHA256(MAC key, IV || ciphertext) (Section 6.1.1).
 * - `password`: the same, with the encryption key derived by PBKDF2 (Section 6.2; HMAC-SHA256 PRF, random
 *   16-byte salt, 16-byte key) written as in RFC 6030 Figure 7 (pkcs-5v2-0 namespace for PBKDF2-params).
 * - `plain`: PlainValue secrets. Only for tests and lab use; the caller must ask for it explicitly.
 *
 * Element order follows the RFC 6030 schema so that `pskctool --validate` accepts the output. Only counters,
 * periods and T0 are written in clear (they are not secret). The randomness comes in through the rng port.
 */
import { otpDigits } from '../../otp/otp-params.ts';
import { ProvisionerError, checkSeedRecord, seedCounter, type SeedRecord } from '../seed.ts';
import { derivePbkdf2, encryptCbc, hmac, PKCS5_NS, URI, XMLENC, XMLENC11 } from '../sources/pskc/crypto.ts';
import { PSKC_NS } from '../sources/pskc/parse.ts';
import type { Rng } from '../sources/generate.ts';

export type PskcProtection =
  | { kind: 'plain' }
  | { kind: 'psk'; key: Uint8Array; keyName?: string }
  | { kind: 'password'; password: string; keyName?: string; iterations?: number };

export const DEFAULT_EXPORT_PBKDF2_ITERATIONS = 100_000;

export const ALGORITHM_URN = {
  hotp: 'urn:ietf:params:xml:ns:keyprov:pskc:hotp',
  totp: 'urn:ietf:params:xml:ns:keyprov:pskc:totp',
  ocra: 'urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1',
} as const;

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** Serialises `records` as a PSKC document. Throws ProvisionerError for invalid records or options. */
export function seedsToPskc(records: readonly SeedRecord[], protection: PskcProtection, rng: Rng): string {
  let encKey: Uint8Array | undefined;
  let macKey: Uint8Array | undefined;
  const head: string[] = [];
  const ind = (n: number): string => '  '.repeat(n);
  try {
    if (protection.kind === 'psk') {
      if (![16, 24, 32].includes(protection.key.length)) {
        throw new ProvisionerError('INVALID_ARGUMENT', `export PSK: must be 16, 24 or 32 bytes (AES-128/192/256), got ${protection.key.length}`);
      }
      encKey = Uint8Array.from(protection.key);
      head.push(`${ind(1)}<pskc:EncryptionKey>`, `${ind(2)}<ds:KeyName>${xmlEscape(protection.keyName ?? 'Pre-shared-key')}</ds:KeyName>`, `${ind(1)}</pskc:EncryptionKey>`);
    } else if (protection.kind === 'password') {
      if (protection.password.length === 0) throw new ProvisionerError('INVALID_ARGUMENT', 'export password: must not be empty');
      const iterations = protection.iterations ?? DEFAULT_EXPORT_PBKDF2_ITERATIONS;
      const salt = rng(16);
      encKey = derivePbkdf2(protection.password, { salt, iterations, keyLength: 16, prf: 'sha256' });
      head.push(
        `${ind(1)}<pskc:EncryptionKey>`,
        `${ind(2)}<xenc11:DerivedKey>`,
        `${ind(3)}<xenc11:KeyDerivationMethod Algorithm="${URI.pbkdf2}">`,
        `${ind(4)}<pkcs5:PBKDF2-params>`,
        `${ind(5)}<Salt><Specified>${b64(salt)}</Specified></Salt>`,
        `${ind(5)}<IterationCount>${iterations}</IterationCount>`,
        `${ind(5)}<KeyLength>16</KeyLength>`,
        `${ind(5)}<PRF Algorithm="${URI.hmacSha256}"/>`,
        `${ind(4)}</pkcs5:PBKDF2-params>`,
        `${ind(3)}</xenc11:KeyDerivationMethod>`,
        `${ind(3)}<xenc11:MasterKeyName>${xmlEscape(protection.keyName ?? 'Export password')}</xenc11:MasterKeyName>`,
        `${ind(2)}</xenc11:DerivedKey>`,
        `${ind(1)}</pskc:EncryptionKey>`,
      );
    }
    const cbcUri = encKey ? `${XMLENC}aes${encKey.length * 8}-cbc` : '';
    if (encKey) {
      macKey = rng(32);
      head.push(
        `${ind(1)}<pskc:MACMethod Algorithm="${URI.hmacSha256}">`,
        `${ind(2)}<pskc:MACKey>`,
        `${ind(3)}<xenc:EncryptionMethod Algorithm="${cbcUri}"/>`,
        `${ind(3)}<xenc:CipherData><xenc:CipherValue>${b64(encryptCbc(encKey, macKey, rng))}</xenc:CipherValue></xenc:CipherData>`,
        `${ind(2)}</pskc:MACKey>`,
        `${ind(1)}</pskc:MACMethod>`,
      );
    }
    const body: string[] = [];
    const usedIds = new Set<string>();
    for (const r of records) {
      checkSeedRecord(r);
      let id = r.keyId ?? r.serial;
      for (let n = 2; usedIds.has(id); n++) id = `${r.keyId ?? r.serial}-${n}`;
      usedIds.add(id);
      body.push(`${ind(1)}<pskc:KeyPackage>`, `${ind(2)}<pskc:DeviceInfo>`);
      if (r.manufacturer !== undefined) body.push(`${ind(3)}<pskc:Manufacturer>${xmlEscape(r.manufacturer)}</pskc:Manufacturer>`);
      body.push(`${ind(3)}<pskc:SerialNo>${xmlEscape(r.serial)}</pskc:SerialNo>`, `${ind(2)}</pskc:DeviceInfo>`);
      const p = r.otp;
      body.push(`${ind(2)}<pskc:Key Id="${xmlEscape(id)}" Algorithm="${ALGORITHM_URN[p.type]}">`);
      if (r.issuer !== undefined) body.push(`${ind(3)}<pskc:Issuer>${xmlEscape(r.issuer)}</pskc:Issuer>`);
      body.push(`${ind(3)}<pskc:AlgorithmParameters>`);
      if (p.type === 'ocra') body.push(`${ind(4)}<pskc:Suite>${xmlEscape(p.suite)}</pskc:Suite>`);
      else if (p.algorithm !== 'SHA1') body.push(`${ind(4)}<pskc:Suite>HMAC-${p.algorithm}</pskc:Suite>`);
      body.push(`${ind(4)}<pskc:ResponseFormat Length="${otpDigits(p)}" Encoding="DECIMAL"/>`, `${ind(3)}</pskc:AlgorithmParameters>`);
      if (r.label !== undefined) body.push(`${ind(3)}<pskc:FriendlyName>${xmlEscape(r.label)}</pskc:FriendlyName>`);
      body.push(`${ind(3)}<pskc:Data>`, `${ind(4)}<pskc:Secret>`);
      const secret = r.secret.exposeSecretBytes();
      if (encKey && macKey) {
        const cv = encryptCbc(encKey, secret, rng);
        body.push(
          `${ind(5)}<pskc:EncryptedValue>`,
          `${ind(6)}<xenc:EncryptionMethod Algorithm="${cbcUri}"/>`,
          `${ind(6)}<xenc:CipherData><xenc:CipherValue>${b64(cv)}</xenc:CipherValue></xenc:CipherData>`,
          `${ind(5)}</pskc:EncryptedValue>`,
          `${ind(5)}<pskc:ValueMAC>${b64(hmac('sha256', macKey, cv))}</pskc:ValueMAC>`,
        );
      } else body.push(`${ind(5)}<pskc:PlainValue>${b64(secret)}</pskc:PlainValue>`);
      body.push(`${ind(4)}</pskc:Secret>`);
      if (p.type === 'totp') {
        if (p.t0Sec !== 0n) body.push(`${ind(4)}<pskc:Time><pskc:PlainValue>${p.t0Sec}</pskc:PlainValue></pskc:Time>`);
        body.push(`${ind(4)}<pskc:TimeInterval><pskc:PlainValue>${p.periodSec}</pskc:PlainValue></pskc:TimeInterval>`);
      } else body.push(`${ind(4)}<pskc:Counter><pskc:PlainValue>${seedCounter(r)}</pskc:PlainValue></pskc:Counter>`);
      body.push(`${ind(3)}</pskc:Data>`);
      if (r.user !== undefined) body.push(`${ind(3)}<pskc:UserId>${xmlEscape(r.user)}</pskc:UserId>`);
      body.push(`${ind(2)}</pskc:Key>`, `${ind(1)}</pskc:KeyPackage>`);
    }
    return [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<pskc:KeyContainer xmlns:pskc="${PSKC_NS}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xenc="${XMLENC}" xmlns:xenc11="${XMLENC11}" xmlns:pkcs5="${PKCS5_NS}" Version="1.0">`,
      ...head,
      ...body,
      '</pskc:KeyContainer>',
      '',
    ].join('\n');
  } finally {
    encKey?.fill(0);
    macKey?.fill(0);
  }
}

