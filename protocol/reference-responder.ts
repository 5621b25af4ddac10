/**
 * A minimal in-memory REFERENCE RESPONDER: the device side of the protocol with just enough behaviour to
 * exercise transports, the report layer and the client — not a token. It has no slots and no PIN; the
 * firmware simulator (firmware-sim/) is the faithful device model.
 *
 * It answers, through the shared HidDevice: INIT, PING, WINK, CANCEL, KEEPALIVE, ERROR (all report-layer
 * rules), and at the message layer GET_INFO (attested with the TEST attestation key), GET_TIME (the injected
 * clock), SELF_TEST (passes), RESET (waits for `press()`, so KEEPALIVE and CANCEL can be tested); every other
 * valid command answers UNSUPPORTED, and malformed messages get the status the codec names.
 */
import { HidDevice } from './hid/device.ts';
import { decodeRequest, encodeResponse, encodeStatus, type DeviceInfo } from './messages.ts';
import { CAPABILITY, STATUS } from './registry.ts';
import { TEST_ATTESTATION_SECRET_KEY } from './test-attestation-key.ts';
import { generateKeyPair, signAttestation, type KeyPair, type Rng } from './wrap.ts';

export interface ReferenceResponderOptions {
  /** Random bytes for channel ids and the device key. Seed it for reproducible runs. */
  rng: Rng;
  serial?: string;
  /** Unix time in seconds at nowMs = 0 (GET_TIME answers timeAtZeroSec + nowMs/1000). */
  timeAtZeroSec?: bigint;
}

export interface ReferenceResponder {
  readonly hid: HidDevice;
  readonly keyPair: KeyPair;
  readonly info: DeviceInfo;
  /** Number of WINKs seen. */
  readonly winks: number;
  handleReport(report: Uint8Array, nowMs: number): Uint8Array[];
  tick(nowMs: number): Uint8Array[];
  /** The user presses the button: completes a pending RESET; the answer goes out with the next tick(). */
  press(): void;
}

export function createReferenceResponder(options: ReferenceResponderOptions): ReferenceResponder {
  const serial = options.serial ?? 'REF-00000001';
  const keyPair = generateKeyPair(options.rng);
  const info: DeviceInfo = {
    model: 'tokenforge reference responder',
    firmwareVersion: '0.1.0',
    serial,
    capabilities: CAPABILITY.RTC | CAPABILITY.BUTTON,
    slotCount: 0,
    slotsUsed: 0,
    state: 'FACTORY',
    pinRetries: 8,
    devicePublicKey: keyPair.publicKey,
    attestationSignature: signAttestation(TEST_ATTESTATION_SECRET_KEY, serial, keyPair.publicKey),
  };
  const timeAtZero = options.timeAtZeroSec ?? 1_700_000_000n;
  let winks = 0;
  const outbox: Uint8Array[] = [];
  const hid = new HidDevice({
    rng: options.rng,
    version: { major: 0, minor: 1, build: 0 },
    onWink: () => {
      winks++;
    },
    handleCbor(_cid, payload, ctx) {
      const req = decodeRequest(payload);
      if (!req.ok) return encodeStatus(req.status);
      const nowSec = timeAtZero + BigInt(Math.floor(ctx.nowMs / 1000));
      switch (req.value.command) {
        case 'GET_INFO':
          return encodeResponse('GET_INFO', { ...info, rtcTimeSec: nowSec });
        case 'GET_TIME':
          return encodeResponse('GET_TIME', { timeSec: nowSec, valid: true });
        case 'SELF_TEST':
          return encodeResponse('SELF_TEST', { passed: true, failed: [] });
        case 'RESET':
          return 'pending';
        default:
          return encodeStatus('UNSUPPORTED');
      }
    },
  });
  return {
    hid,
    keyPair,
    info,
    get winks() {
      return winks;
    },
    handleReport: (report, nowMs) => hid.handleReport(report, nowMs),
    tick: (nowMs) => [...outbox.splice(0), ...hid.tick(nowMs)],
    press() {
      const p = hid.pending;
      if (p) outbox.push(...hid.complete(p.cid, Uint8Array.of(STATUS.OK, 0xa0)));
    },
  };
}

/** A small deterministic RNG (xorshift128+ style over 32-bit halves) for tests, demos and benches. Not for keys in production. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0 || 0x9e3779b9;
  let b = (seed * 2654435761) >>> 0 || 0x85ebca6b;
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let t = a ^ (a << 11);
      a = b;
      b = (b ^ (b >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
      t = b;
      out[i] = t & 0xff;
    }
    return out;
  };
}
