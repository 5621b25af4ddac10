/**
 * TokenClient against in-memory devices built from the shared HidDevice: a small HOTP token written here
 * (AUTHENTICATE, PUT_SLOT with unwrapping, CALCULATE) to prove the client's wrapping, KCV check and status
 * mapping end to end; the reference responder for KEEPALIVE/CANCEL; fault-injecting links for retries; and
 * ports that are not tokens.
 */
import { describe, expect, it } from 'vitest';
import { timingSafeEqualBytes } from '../../otp/compare.ts';
import { hotpReference } from '../../otp/reference.ts';
import type { HotpParams } from '../../otp/otp-params.ts';
import type { Secret } from '../../otp/secret.ts';
import { TokenClient } from '../../protocol/client.ts';
import { serveLink, type ReportDevice } from '../../protocol/links/endpoint.ts';
import { HidDevice } from '../../protocol/hid/device.ts';
import { decodeRequest, encodeResponse, encodeStatus, type DeviceInfo, type SlotParams } from '../../protocol/messages.ts';
import { createReferenceResponder, seededRng } from '../../protocol/reference-responder.ts';
import { CAPABILITY } from '../../protocol/registry.ts';
import { TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_SECRET_KEY } from '../../protocol/test-attestation-key.ts';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { memoryLinkPair, type MemoryLinkOptions } from '../../protocol/links/memory.ts';
import { generateKeyPair, keyCheckValue, signAttestation, unwrapPin, unwrapSeed } from '../../protocol/wrap.ts';

/** A minimal one-slot HOTP token, enough to exercise the client (the real model is firmware-sim/). */
function miniToken(opts: { lieAboutKcv?: boolean; attestWith?: Uint8Array } = {}) {
  const rng = seededRng(21);
  const keys = generateKeyPair(rng);
  const serial = 'MINI-0001';
  let retries = 3;
  let authed: number | undefined;
  let slot: { otp: HotpParams; seed: Secret } | undefined;
  let locked = false;
  const info = (): DeviceInfo => ({
    model: 'mini',
    firmwareVersion: '0.0.1',
    serial,
    capabilities: CAPABILITY.HOTP | CAPABILITY.TEST_MODE,
    slotCount: 1,
    slotsUsed: slot ? 1 : 0,
    state: retries === 0 ? 'PIN_BLOCKED' : locked ? 'LOCKED' : slot ? 'PROVISIONED' : 'FACTORY',
    pinRetries: retries,
    devicePublicKey: keys.publicKey,
    attestationSignature: signAttestation(opts.attestWith ?? TEST_ATTESTATION_SECRET_KEY, serial, keys.publicKey),
  });
  const hid = new HidDevice({
    rng,
    onChannelClosed: (cid) => {
      if (authed === cid) authed = undefined;
    },
    handleCbor(cid, payload) {
      const d = decodeRequest(payload);
      if (!d.ok) return encodeStatus(d.status);
      const req = d.value;
      switch (req.command) {
        case 'GET_INFO':
          return encodeResponse('GET_INFO', info());
        case 'AUTHENTICATE': {
          if (retries === 0) return encodeStatus('PIN_BLOCKED');
          const pin = unwrapPin({ deviceSecretKey: keys.secretKey, devicePublicKey: keys.publicKey, serial, blob: req.wrappedPin });
          if (!pin) return encodeStatus('UNWRAP_FAILED');
          if (!timingSafeEqualBytes(pin.exposeSecretBytes(), new TextEncoder().encode('123456'))) {
            retries--;
            return encodeStatus(retries === 0 ? 'PIN_BLOCKED' : 'PIN_INVALID');
          }
          retries = 3;
          authed = cid;
          return encodeResponse('AUTHENTICATE', { pinRetries: retries });
        }
        case 'PUT_SLOT': {
          if (authed !== cid) return encodeStatus('NOT_AUTHENTICATED');
          if (locked) return encodeStatus('SLOT_LOCKED');
          if (req.params.slot !== 0) return encodeStatus('NO_SUCH_SLOT');
          const otp = req.params.otp;
          if (otp.type !== 'hotp') return encodeStatus('UNSUPPORTED');
          const seed = unwrapSeed({ deviceSecretKey: keys.secretKey, devicePublicKey: keys.publicKey, serial, params: req.params, blob: req.wrappedSeed });
          if (!seed) return encodeStatus('UNWRAP_FAILED');
          slot = { otp, seed };
          const kcv = keyCheckValue(seed);
          if (opts.lieAboutKcv) kcv[0]! ^= 1;
          return encodeResponse('PUT_SLOT', { kcv });
        }
        case 'CALCULATE': {
          if (!slot) return encodeStatus('SLOT_EMPTY');
          const counter = slot.otp.counter;
          slot.otp = { ...slot.otp, counter: counter + 1n };
          return encodeResponse('CALCULATE', { code: hotpReference(slot.seed.exposeSecretBytes(), counter, slot.otp.algorithm, slot.otp.digits), counter });
        }
        case 'LOCK':
          if (authed !== cid) return encodeStatus('NOT_AUTHENTICATED');
          locked = true;
          return encodeResponse('LOCK', {});
        default:
          return encodeStatus('UNSUPPORTED');
      }
    },
  });
  return { hid, handleReport: (r: Uint8Array, n: number) => hid.handleReport(r, n), tick: (n: number) => hid.tick(n) };
}

async function connect(device: ReportDevice, link: MemoryLinkOptions = {}, clientOpts: Parameters<typeof TokenClient.open>[1] = {}) {
  const [a, b] = memoryLinkPair(link);
  const ep = serveLink(b, device, { tickMs: 10 });
  const client = await TokenClient.open(new FramedTransport(a), { timeoutMs: 300, trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], ...clientOpts });
  return {
    client,
    ep,
    async close() {
      await client.close();
      await ep.close();
    },
  };
}

const RFC4226_KEY = new TextEncoder().encode('12345678901234567890');
const RFC4226_CODES = ['755224', '287082', '359152', '969429', '338314'];
const hotp0: SlotParams = { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } };

describe('TokenClient end to end (mini token)', () => {
  it('authenticates, writes a wrapped seed, checks the KCV and reads RFC 4226 codes back', async () => {
    const { client, close } = await connect(miniToken());
    try {
      expect((await client.info()).state).toBe('FACTORY');
      await expect(client.putSlot(hotp0, RFC4226_KEY)).rejects.toMatchObject({ code: 'NOT_AUTHENTICATED' });
      expect(await client.authenticate('123456')).toEqual({ pinRetries: 3 });
      const { kcv } = await client.putSlot(hotp0, RFC4226_KEY);
      expect(kcv.length).toBe(3);
      for (let i = 0; i < 5; i++) expect(await client.calculate(0)).toEqual({ code: RFC4226_CODES[i], counter: BigInt(i) });
      await client.lock();
      await expect(client.putSlot(hotp0, RFC4226_KEY)).rejects.toMatchObject({ code: 'SLOT_LOCKED' });
    } finally {
      await close();
    }
  });

  it('maps statuses to ProtocolError codes (PIN_INVALID, then PIN_BLOCKED)', async () => {
    const { client, close } = await connect(miniToken());
    try {
      await expect(client.authenticate('000000')).rejects.toMatchObject({ code: 'PIN_INVALID' });
      await expect(client.authenticate('000000')).rejects.toMatchObject({ code: 'PIN_INVALID' });
      await expect(client.authenticate('000000')).rejects.toMatchObject({ code: 'PIN_BLOCKED' });
      expect((await client.info()).state).toBe('PIN_BLOCKED');
    } finally {
      await close();
    }
  });

  it('refuses to send secrets to a key not signed by a trust anchor, or without anchors', async () => {
    const rogue = generateKeyPair(seededRng(99));
    const a = await connect(miniToken({ attestWith: rogue.secretKey }));
    try {
      await expect(a.client.authenticate('123456')).rejects.toMatchObject({ code: 'ATTESTATION_INVALID' });
    } finally {
      await a.close();
    }
    const b = await connect(miniToken(), {}, { trustAnchors: [] });
    try {
      await expect(b.client.putSlot(hotp0, RFC4226_KEY)).rejects.toMatchObject({ code: 'ATTESTATION_INVALID' });
    } finally {
      await b.close();
    }
  });

  it('detects a token that reports a KCV different from the seed sent', async () => {
    const { client, close } = await connect(miniToken({ lieAboutKcv: true }));
    try {
      await client.authenticate('123456');
      await expect(client.putSlot(hotp0, RFC4226_KEY)).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
    } finally {
      await close();
    }
  });
});

describe('TokenClient faults', () => {
  it('retries idempotent requests over a link that corrupts bytes (CRC drops), always returning correct data', async () => {
    const random = (() => {
      const r = seededRng(1234);
      return () => (r(4).reduce((a, b) => a * 256 + b, 0) >>> 0) / 2 ** 32;
    })();
    const dev = createReferenceResponder({ rng: seededRng(3) });
    const { client, ep, close } = await connect(dev, { bitFlipRate: 0.0005, random, maxChunk: 16 }, { retries: 6, timeoutMs: 250 });
    try {
      for (let i = 0; i < 15; i++) expect((await client.info()).serial).toBe(dev.info.serial);
      const h = client.transport.stats;
      const d = ep.frameStats;
      expect(h.crcErrors + h.lengthErrors + h.overflows + d.crcErrors + d.lengthErrors + d.overflows).toBeGreaterThan(0);
    } finally {
      await close();
    }
  });

  it('retries after a lost request frame (resync by INIT), but never resends a non-idempotent request', async () => {
    const inner = miniToken();
    let drop = 0;
    const lossy: ReportDevice = {
      handleReport: (r, n) => {
        const isInit = (r[4]! & 0x7f) === 0x06;
        if (!isInit && drop > 0) {
          drop--;
          return [];
        }
        return inner.handleReport(r, n);
      },
      tick: (n) => inner.tick(n),
    };
    const { client, close } = await connect(lossy);
    try {
      drop = 1;
      expect((await client.info()).serial).toBe('MINI-0001');
      drop = 1;
      await client.authenticate('123456').then(
        () => expect.unreachable('a lost AUTHENTICATE must not be resent'),
        (e) => {
          expect(e.code).toBe('TIMEOUT');
          expect(e.message).toMatch(/outcome is unknown/);
        },
      );
    } finally {
      await close();
    }
  });

  it('reports KEEPALIVE UPNEEDED while the token waits for the button, and completes on press', async () => {
    const dev = createReferenceResponder({ rng: seededRng(8) });
    const seen: string[] = [];
    const { client, close } = await connect(dev, {}, { onKeepalive: (s) => seen.push(s) });
    try {
      const p = client.reset();
      await new Promise((r) => setTimeout(r, 450));
      dev.press();
      await p;
      expect(seen.length).toBeGreaterThanOrEqual(3); // immediately, then every 100 ms beyond the 300 ms answer timeout
      expect(new Set(seen)).toEqual(new Set(['UPNEEDED']));
    } finally {
      await close();
    }
  });

  it('cancels a request waiting for the button with an AbortSignal (CANCEL → CANCELLED)', async () => {
    const dev = createReferenceResponder({ rng: seededRng(9) });
    const { client, close } = await connect(dev);
    try {
      const ac = new AbortController();
      const p = client.reset({ signal: ac.signal });
      setTimeout(() => ac.abort(), 150);
      await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
      expect(dev.hid.pending).toBeUndefined();
      expect((await client.info()).serial).toBe(dev.info.serial); // the channel is usable again
    } finally {
      await close();
    }
  });

  it('gives up waiting for the button after userPresenceTimeoutMs and cancels', async () => {
    const dev = createReferenceResponder({ rng: seededRng(10) });
    const { client, close } = await connect(dev, {}, { userPresenceTimeoutMs: 400 });
    try {
      await expect(client.reset()).rejects.toMatchObject({ code: 'USER_ACTION_TIMEOUT' });
      await new Promise((r) => setTimeout(r, 50));
      expect(dev.hid.pending).toBeUndefined();
    } finally {
      await close();
    }
  });
});

describe('ports that are not tokens', () => {
  it('silence → TIMEOUT', async () => {
    const [a] = memoryLinkPair();
    await expect(TokenClient.open(new FramedTransport(a), { timeoutMs: 100, retries: 1 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('an echoing port → NOT_A_TOKEN', async () => {
    const [a, b] = memoryLinkPair();
    b.onData((c) => void b.write(c.slice()));
    await expect(TokenClient.open(new FramedTransport(a), { timeoutMs: 100, retries: 1 })).rejects.toMatchObject({ code: 'NOT_A_TOKEN' });
  });

  it('a port that sends text → NOT_A_TOKEN', async () => {
    const [a, b] = memoryLinkPair();
    b.onData(() => void b.write(new TextEncoder().encode('AT OK\r\n\0')));
    await expect(TokenClient.open(new FramedTransport(a), { timeoutMs: 100, retries: 1 })).rejects.toMatchObject({ code: 'NOT_A_TOKEN' });
  });
});
