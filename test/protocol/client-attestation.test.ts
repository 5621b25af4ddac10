/**
 * TokenClient checks a token's attestation once per session, keyed by the exact (serial, device key, signature)
 * it verified, and still never wraps a secret to a key that was not attested: a token whose GET_INFO changes
 * its key mid-session is verified again (and refused if the new key is not attested). The number of checks is
 * observed through the trust-anchor list (verifyAttestation walks it once per check).
 */
import { describe, expect, it } from 'vitest';
import { TokenClient } from '../../protocol/client.ts';
import { serveLink } from '../../protocol/links/endpoint.ts';
import { HidDevice } from '../../protocol/hid/device.ts';
import { decodeRequest, encodeResponse, encodeStatus, type DeviceInfo, type SlotParams } from '../../protocol/messages.ts';
import { seededRng } from '../../protocol/reference-responder.ts';
import { CAPABILITY } from '../../protocol/registry.ts';
import { TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_SECRET_KEY } from '../../protocol/test-attestation-key.ts';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { memoryLinkPair } from '../../protocol/links/memory.ts';
import { generateKeyPair, keyCheckValue, signAttestation, unwrapPin, unwrapSeed, type KeyPair } from '../../protocol/wrap.ts';

/** Trust anchors that count how often they are walked (one walk per attestation check). */
class CountingAnchors extends Array<Uint8Array> {
  walks = 0;
  override [Symbol.iterator](): ArrayIterator<Uint8Array> {
    this.walks++;
    return super[Symbol.iterator]();
  }
}

const SERIAL = 'ATT-0001';
const hotp0: SlotParams = { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } };
const SEED = new TextEncoder().encode('12345678901234567890');

/** A token whose device key (and its attestation) the test can swap; it unwraps with whatever key is current. */
function swappableToken() {
  const rng = seededRng(41);
  const state: { keys: KeyPair; signer: Uint8Array; unwrapped: string[] } = { keys: generateKeyPair(rng), signer: TEST_ATTESTATION_SECRET_KEY, unwrapped: [] };
  const info = (): DeviceInfo => ({
    model: 'swap',
    firmwareVersion: '0.0.1',
    serial: SERIAL,
    capabilities: CAPABILITY.HOTP | CAPABILITY.TEST_MODE,
    slotCount: 1,
    slotsUsed: 0,
    state: 'FACTORY',
    pinRetries: 3,
    devicePublicKey: state.keys.publicKey,
    attestationSignature: signAttestation(state.signer, SERIAL, state.keys.publicKey),
  });
  const hid = new HidDevice({
    rng,
    handleCbor(_cid, payload) {
      const d = decodeRequest(payload);
      if (!d.ok) return encodeStatus(d.status);
      const req = d.value;
      const { secretKey, publicKey } = state.keys;
      switch (req.command) {
        case 'GET_INFO':
          return encodeResponse('GET_INFO', info());
        case 'AUTHENTICATE': {
          const pin = unwrapPin({ deviceSecretKey: secretKey, devicePublicKey: publicKey, serial: SERIAL, blob: req.wrappedPin });
          if (!pin) return encodeStatus('UNWRAP_FAILED');
          state.unwrapped.push('pin');
          return encodeResponse('AUTHENTICATE', { pinRetries: 3 });
        }
        case 'PUT_SLOT': {
          const seed = unwrapSeed({ deviceSecretKey: secretKey, devicePublicKey: publicKey, serial: SERIAL, params: req.params, blob: req.wrappedSeed });
          if (!seed) return encodeStatus('UNWRAP_FAILED');
          state.unwrapped.push('seed');
          return encodeResponse('PUT_SLOT', { kcv: keyCheckValue(seed) });
        }
        default:
          return encodeStatus('UNSUPPORTED');
      }
    },
  });
  return { state, rng, device: { handleReport: (r: Uint8Array, n: number) => hid.handleReport(r, n), tick: (n: number) => hid.tick(n) } };
}

async function session(anchors: CountingAnchors) {
  const token = swappableToken();
  const [a, b] = memoryLinkPair({});
  const ep = serveLink(b, token.device, { tickMs: 10 });
  const client = await TokenClient.open(new FramedTransport(a), { timeoutMs: 300, trustAnchors: anchors });
  return {
    token,
    client,
    async close() {
      await client.close();
      await ep.close();
    },
  };
}

describe('TokenClient attestation cache', () => {
  it('verifies once per session for authenticate + putSlot + putSlot', async () => {
    const anchors = CountingAnchors.from([TEST_ATTESTATION_PUBLIC_KEY]) as CountingAnchors;
    const s = await session(anchors);
    try {
      await s.client.authenticate('123456');
      await s.client.putSlot(hotp0, SEED);
      await s.client.putSlot(hotp0, SEED);
      expect(anchors.walks).toBe(1);
      expect(s.token.state.unwrapped).toEqual(['pin', 'seed', 'seed']);
    } finally {
      await s.close();
    }
  });

  it('re-verifies when the token reports another key, and refuses to wrap to it unless it is attested', async () => {
    const anchors = CountingAnchors.from([TEST_ATTESTATION_PUBLIC_KEY]) as CountingAnchors;
    const s = await session(anchors);
    try {
      await s.client.authenticate('123456');
      expect(anchors.walks).toBe(1);
      // the token swaps to a key signed by a rogue factory key; the host refreshes its info
      const rogue = generateKeyPair(seededRng(99));
      s.token.state.keys = generateKeyPair(s.token.rng);
      s.token.state.signer = rogue.secretKey;
      await s.client.info();
      await expect(s.client.putSlot(hotp0, SEED)).rejects.toMatchObject({ code: 'ATTESTATION_INVALID' });
      await expect(s.client.authenticate('123456')).rejects.toMatchObject({ code: 'ATTESTATION_INVALID' });
      expect(s.token.state.unwrapped).toEqual(['pin']); // nothing reached the unattested key
      expect(anchors.walks).toBe(3); // a failed check is not cached
      // a new key that IS attested is verified once, then used
      s.token.state.keys = generateKeyPair(s.token.rng);
      s.token.state.signer = TEST_ATTESTATION_SECRET_KEY;
      await s.client.info();
      await s.client.putSlot(hotp0, SEED);
      await s.client.putSlot(hotp0, SEED);
      expect(anchors.walks).toBe(4);
      expect(s.token.state.unwrapped).toEqual(['pin', 'seed', 'seed']);
    } finally {
      await s.close();
    }
  });

  it('a cached info whose key bytes are altered in place is verified again', async () => {
    const anchors = CountingAnchors.from([TEST_ATTESTATION_PUBLIC_KEY]) as CountingAnchors;
    const s = await session(anchors);
    try {
      const info = await s.client.info();
      await s.client.authenticate('123456');
      expect(anchors.walks).toBe(1);
      const other = generateKeyPair(seededRng(7));
      info.devicePublicKey.set(other.publicKey); // same object, different key: must not ride on the earlier check
      await expect(s.client.putSlot(hotp0, SEED)).rejects.toMatchObject({ code: 'ATTESTATION_INVALID' });
      expect(anchors.walks).toBe(2);
    } finally {
      await s.close();
    }
  });
});
