/**
 * The byte-level worked examples of docs/protocol.md (§9), parsed out of the markdown and checked byte-exactly
 * against the codecs. Inputs are the ones the document states; every example in the document must be
 * covered here and every case here must be in the document.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createECDH, createHmac } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { bytesToHex, hexToBytes } from '../../otp/hex.ts';
import { errorReport, keepaliveReport, parsePacket } from '../../protocol/hid/packet.ts';
import { splitMessage } from '../../protocol/hid/assembler.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, encodeStatus, type SlotParams } from '../../protocol/messages.ts';
import { BROADCAST_CID, HID_CMD } from '../../protocol/registry.ts';
import { encodeFrame, FrameDecoder } from '../../protocol/serial.ts';
import { TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_SECRET_KEY } from '../../protocol/test-attestation-key.ts';
import { attestationMessage, keyCheckValue, seedAad, signAttestation, unwrapSeed, verifyAttestation, wrapSeed } from '../../protocol/wrap.ts';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const examples = new Map<string, string>();
for (const m of doc.matchAll(/```hex example=(\S+)\n([\s\S]*?)```/g)) {
  expect(examples.has(m[1]!)).toBe(false);
  examples.set(m[1]!, m[2]!.replace(/\s+/g, '').toLowerCase());
}
const ex = (name: string): string => {
  const v = examples.get(name);
  if (v === undefined) throw new Error(`docs/protocol.md has no example "${name}"`);
  return v;
};

const CID = 0x11223344;
const devSk = new Uint8Array(32).fill(1);
const ecdh = createECDH('prime256v1'); // independent derivation of the device public key
ecdh.setPrivateKey(Buffer.from(devSk));
const devPk = new Uint8Array(ecdh.getPublicKey());
const serial = 'TF00000001';
const params: SlotParams = { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } };
const seed = new TextEncoder().encode('12345678901234567890');
const fixedRng = () => {
  const queue = [new Uint8Array(32).fill(2), new Uint8Array(12).fill(3)];
  return (n: number) => queue.shift()!.slice(0, n);
};

const CASES: Record<string, () => Uint8Array> = {
  'init-request': () => splitMessage(BROADCAST_CID, HID_CMD.INIT, hexToBytes('0102030405060708'))[0]!,
  'init-response': () => splitMessage(BROADCAST_CID, HID_CMD.INIT, hexToBytes('0102030405060708' + '11223344' + '02' + '000100' + '0d'))[0]!,
  'ping-60-init': () => splitMessage(CID, HID_CMD.PING, new Uint8Array(60).map((_, i) => i))[0]!,
  'ping-60-cont': () => splitMessage(CID, HID_CMD.PING, new Uint8Array(60).map((_, i) => i))[1]!,
  'cbor-get-slot-report': () => splitMessage(CID, HID_CMD.CBOR, encodeRequest({ command: 'GET_SLOT', slot: 2 }))[0]!,
  'error-invalid-seq': () => errorReport(CID, 'INVALID_SEQ'),
  'keepalive-upneeded': () => keepaliveReport(CID, 'UPNEEDED'),
  'frame-init-request': () => encodeFrame(splitMessage(BROADCAST_CID, HID_CMD.INIT, hexToBytes('0102030405060708'))[0]!),
  'get-info-request': () => encodeRequest({ command: 'GET_INFO' }),
  'get-slot-request': () => encodeRequest({ command: 'GET_SLOT', slot: 2 }),
  'calculate-request': () => encodeRequest({ command: 'CALCULATE', slot: 0 }),
  'calculate-response': () => encodeResponse('CALCULATE', { code: '755224', counter: 0n }),
  'set-time-request': () => encodeRequest({ command: 'SET_TIME', timeSec: 1_700_000_000n }),
  'get-time-response': () => encodeResponse('GET_TIME', { timeSec: 1_700_000_000n, valid: true }),
  'self-test-response': () => encodeResponse('SELF_TEST', { passed: false, failed: ['flash'] }),
  'status-pin-invalid': () => encodeStatus('PIN_INVALID'),
  'device-public-key': () => devPk,
  'seed-aad': () => seedAad(serial, params),
  'ephemeral-public-key': () => wrapSeed({ devicePublicKey: devPk, serial, params, seed, rng: fixedRng() }).ephemeralPublicKey,
  'wrapped-seed-ciphertext': () => wrapSeed({ devicePublicKey: devPk, serial, params, seed, rng: fixedRng() }).ciphertext,
  'put-slot-request': () => encodeRequest({ command: 'PUT_SLOT', params, wrappedSeed: wrapSeed({ devicePublicKey: devPk, serial, params, seed, rng: fixedRng() }) }),
  kcv: () => keyCheckValue(seed),
  'attestation-message': () => attestationMessage(serial, devPk),
  'attestation-signature': () => signAttestation(TEST_ATTESTATION_SECRET_KEY, serial, devPk),
};

describe('docs/protocol.md worked examples', () => {
  it('documents exactly the examples this test checks', () => {
    expect([...examples.keys()].sort()).toEqual(Object.keys(CASES).sort());
  });

  it.each(Object.keys(CASES))('%s matches the codec byte for byte', (name) => {
    expect(bytesToHex(CASES[name]!())).toBe(ex(name));
  });

  it('the documented examples decode back to what the text says', () => {
    const init = parsePacket(hexToBytes(ex('init-request')))!;
    expect(init).toMatchObject({ kind: 'init', cid: BROADCAST_CID, cmd: HID_CMD.INIT, bcnt: 8 });
    const frame = new FrameDecoder().push(hexToBytes(ex('frame-init-request')));
    expect(frame.map(bytesToHex)).toEqual([ex('init-request')]);
    const crc = (zlibCrc32 as (d: Uint8Array) => number)(hexToBytes(ex('init-request')));
    expect(crc).toBe(0x9db7d0e0);
    expect(decodeResponse('CALCULATE', hexToBytes(ex('calculate-response')))).toEqual({ ok: true, value: { status: 'OK', body: { code: '755224', counter: 0n } } });
    expect(decodeResponse('GET_INFO', hexToBytes(ex('status-pin-invalid')))).toEqual({ ok: true, value: { status: 'PIN_INVALID' } });
    const put = decodeRequest(hexToBytes(ex('put-slot-request')));
    expect(put.ok && put.value.command === 'PUT_SLOT').toBe(true);
    if (put.ok && put.value.command === 'PUT_SLOT') {
      const s = unwrapSeed({ deviceSecretKey: devSk, devicePublicKey: devPk, serial, params: put.value.params, blob: put.value.wrappedSeed });
      expect(new TextDecoder().decode(s!.exposeSecretBytes())).toBe('12345678901234567890');
    }
    expect(ex('kcv')).toBe(createHmac('sha256', Buffer.from(seed)).update('tokenforge-kcv').digest('hex').slice(0, 6));
    expect(verifyAttestation({ serial, devicePublicKey: devPk, attestationSignature: hexToBytes(ex('attestation-signature')) }, [TEST_ATTESTATION_PUBLIC_KEY])).toBe(true);
  });
});
