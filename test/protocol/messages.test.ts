/**
 * Message layer: canonical CBOR and the typed request/response codecs, including the malformed-input table
 * (every rejection names the wire status a device answers with).
 */
import { describe, expect, it } from 'vitest';
import { hexToBytes, bytesToHex } from '../../otp/hex.ts';
import { decodeCanonical, encodeCanonical, isCanonicalCbor } from '../../protocol/cbor.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, encodeStatus, type Request, type ResponseBodies } from '../../protocol/messages.ts';
import { COMMAND, STATUS, type CommandName } from '../../protocol/registry.ts';

const U64_MAX = (1n << 64n) - 1n;
const blob = { ephemeralPublicKey: new Uint8Array(65).fill(4), nonce: new Uint8Array(12).fill(1), ciphertext: new Uint8Array(36).fill(2) };

describe('canonical CBOR', () => {
  it('encodes integers in shortest form (RFC 8949 Appendix A values)', () => {
    const table: Array<[number | bigint, string]> = [
      [0, '00'],
      [23, '17'],
      [24, '1818'],
      [255, '18ff'],
      [256, '190100'],
      [65535, '19ffff'],
      [65536, '1a00010000'],
      [4294967295, '1affffffff'],
      [4294967296n, '1b0000000100000000'],
      [U64_MAX, '1bffffffffffffffff'],
      [-1, '20'],
      [-1000, '3903e7'],
    ];
    for (const [v, hex] of table) {
      expect(bytesToHex(encodeCanonical(v))).toBe(hex);
      const back = decodeCanonical(hexToBytes(hex));
      expect(typeof back === 'bigint' ? back : BigInt(back as number)).toBe(BigInt(v));
    }
  });

  it('sorts map keys and round-trips nested values', () => {
    const v = new Map<number, unknown>([
      [10, 'x'],
      [1, new Uint8Array([0, 1])],
      [3, [true, false, 'é']],
    ]);
    const bytes = encodeCanonical(v as never);
    // a3 | 01 42 0001 | 03 83 f5 f4 62 c3a9 | 0a 61 78  (keys ascending whatever the insertion order)
    expect(bytesToHex(bytes)).toBe('a30142000103' + '83f5f462c3a9' + '0a6178');
    expect(decodeCanonical(bytes)).toEqual(new Map<number, unknown>([[1, new Uint8Array([0, 1])], [3, [true, false, 'é']], [10, 'x']]));
  });

  it.each([
    ['non-shortest uint (1800)', '1800'],
    ['non-shortest uint (190017)', '190017'],
    ['non-shortest 8-byte head', '1b00000000ffffffff'],
    ['indefinite-length array', '9f01ff'],
    ['indefinite-length bytes', '5f4101ff'],
    ['tag', 'c11a514b67b0'],
    ['float', 'fa3f800000'],
    ['null', 'f6'],
    ['undefined', 'f7'],
    ['reserved additional info', '1c'],
    ['unsorted map keys', 'a202000100'],
    ['duplicate map keys', 'a201000100'],
    ['text map key', 'a1616100'],
    ['negative map key', 'a12000'],
    ['trailing byte', '0000'],
    ['truncated bytes', '4301'],
    ['declared length far beyond input', '5bffffffff0000000001'],
    ['array count beyond input', '9affffffff'],
    ['map count beyond input', 'bafffffff0'],
    ['invalid UTF-8', '62c328'],
    ['empty input', ''],
    ['too deep', '8181818181818100'],
  ])('rejects %s', (_name, hex) => {
    const b = hexToBytes(hex);
    expect(isCanonicalCbor(b)).toBe(false);
    expect(decodeCanonical(b)).toBeUndefined();
  });
});

const REQUESTS: Request[] = [
  { command: 'GET_INFO' },
  { command: 'AUTHENTICATE', wrappedPin: blob },
  { command: 'PUT_SLOT', params: { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, wrappedSeed: blob },
  { command: 'PUT_SLOT', params: { slot: 254, touch: 'always', otp: { type: 'hotp', algorithm: 'SHA512', digits: 10, counter: U64_MAX } }, wrappedSeed: blob },
  { command: 'PUT_SLOT', params: { slot: 1, touch: 'never', otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 60, t0Sec: 0n } }, wrappedSeed: blob },
  { command: 'PUT_SLOT', params: { slot: 2, touch: 'always', otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:QN08' } }, wrappedSeed: blob },
  { command: 'PUT_SLOT', params: { slot: 3, touch: 'never', otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1', counter: 5n } }, wrappedSeed: blob },
  { command: 'GET_SLOT', slot: 7 },
  { command: 'DELETE_SLOT', slot: 0 },
  { command: 'LOCK' },
  { command: 'CALCULATE', slot: 0 },
  { command: 'CALCULATE', slot: 2, challenge: '00000000' },
  { command: 'SET_TIME', timeSec: 1_700_000_000n },
  { command: 'SET_TIME', timeSec: U64_MAX, allowRollback: true },
  { command: 'GET_TIME' },
  { command: 'SELF_TEST' },
  { command: 'RESET' },
];

describe('requests', () => {
  it.each(REQUESTS.map((r) => [r.command, r] as const))('%s round-trips and starts with its command byte', (_n, req) => {
    const bytes = encodeRequest(req);
    expect(bytes[0]).toBe(COMMAND[req.command]);
    const back = decodeRequest(bytes);
    expect(back).toEqual({ ok: true, value: req });
    // canonical: re-encoding the decoded value gives the same bytes
    expect(bytesToHex(encodeRequest((back as { value: Request }).value))).toBe(bytesToHex(bytes));
  });

  it('encodes counters as CBOR uint64 only when needed (counter 0 is one byte)', () => {
    const small = encodeRequest({ command: 'SET_TIME', timeSec: 0n });
    expect(bytesToHex(small)).toBe('08a10100');
    const big = encodeRequest({ command: 'SET_TIME', timeSec: U64_MAX });
    expect(bytesToHex(big)).toBe('08a1011bffffffffffffffff');
  });

  it.each([
    ['empty message', '', 'INVALID_LENGTH'],
    ['unknown command', '7ea0', 'INVALID_COMMAND'],
    ['command 0x00', '00a0', 'INVALID_COMMAND'],
    ['no body', '01', 'INVALID_CBOR'],
    ['trailing byte', '01a000', 'INVALID_CBOR'],
    ['non-canonical map length', '01b800', 'INVALID_CBOR'],
    ['body is an array', '0180', 'UNEXPECTED_TYPE'],
    ['body is a number', '0100', 'UNEXPECTED_TYPE'],
    ['unknown key', '01a10100', 'UNKNOWN_KEY'],
    ['GET_SLOT without slot', '04a0', 'MISSING_PARAMETER'],
    ['GET_SLOT slot as text', '04a1016130', 'UNEXPECTED_TYPE'],
    ['GET_SLOT slot negative', '04a10120', 'UNEXPECTED_TYPE'],
    ['GET_SLOT slot 255', '04a10118ff', 'INVALID_PARAMETER'],
    ['GET_SLOT extra key', '04a201000200', 'UNKNOWN_KEY'],
    ['SET_TIME as text', '08a1016131', 'UNEXPECTED_TYPE'],
    ['SET_TIME allowRollback as int', '08a201000201', 'UNEXPECTED_TYPE'],
    ['CALCULATE empty challenge', '07a201000260', 'INVALID_PARAMETER'],
  ])('rejects %s with %s', (_name, hex, status) => {
    const r = decodeRequest(hexToBytes(hex));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.status).toBe(status);
  });

  function putSlotWith(mutate: (m: Map<number, unknown>) => void): Uint8Array {
    const bytes = encodeRequest(REQUESTS[2]!);
    const m = decodeCanonical(bytes.subarray(1)) as Map<number, unknown>;
    mutate(m);
    return Uint8Array.of(COMMAND.PUT_SLOT, ...encodeCanonical(m as never));
  }

  it.each([
    ['digits 5', (m: Map<number, unknown>) => m.set(4, 5), 'INVALID_PARAMETER'],
    ['digits 11', (m: Map<number, unknown>) => m.set(4, 11), 'INVALID_PARAMETER'],
    ['unknown type 3', (m: Map<number, unknown>) => m.set(2, 3), 'INVALID_PARAMETER'],
    ['unknown algorithm 3', (m: Map<number, unknown>) => m.set(3, 3), 'INVALID_PARAMETER'],
    ['unknown touch 2', (m: Map<number, unknown>) => m.set(9, 2), 'INVALID_PARAMETER'],
    ['hotp without counter', (m: Map<number, unknown>) => m.delete(5), 'MISSING_PARAMETER'],
    ['hotp with period', (m: Map<number, unknown>) => m.set(6, 30), 'INVALID_PARAMETER'],
    ['counter as bytes', (m: Map<number, unknown>) => m.set(5, new Uint8Array(8)), 'UNEXPECTED_TYPE'],
    ['seed not wrapped (bytes)', (m: Map<number, unknown>) => m.set(10, new Uint8Array(20)), 'UNEXPECTED_TYPE'],
    ['wrapped seed with a short key', (m: Map<number, unknown>) => (m.get(10) as Map<number, unknown>).set(1, new Uint8Array(33)), 'INVALID_PARAMETER'],
    ['wrapped seed with an unknown key', (m: Map<number, unknown>) => (m.get(10) as Map<number, unknown>).set(4, 0), 'UNKNOWN_KEY'],
    ['wrapped seed without nonce', (m: Map<number, unknown>) => (m.get(10) as Map<number, unknown>).delete(2), 'MISSING_PARAMETER'],
    ['kcv in a request', (m: Map<number, unknown>) => m.set(11, new Uint8Array(3)), 'UNKNOWN_KEY'],
  ])('PUT_SLOT: rejects %s', (_name, mutate, status) => {
    const r = decodeRequest(putSlotWith(mutate));
    expect(r.ok ? 'ok' : r.status).toBe(status);
  });

  it.each([
    [0, 'INVALID_PARAMETER'],
    [1, 'ok'],
    [86_400, 'ok'],
    [86_401, 'INVALID_PARAMETER'],
  ])('PUT_SLOT totp: periodSec %i → %s (docs/protocol.md §5: 1..86400)', (periodSec, status) => {
    const bytes = encodeRequest(REQUESTS[4]!);
    const m = decodeCanonical(bytes.subarray(1)) as Map<number, unknown>;
    m.set(6, periodSec);
    const r = decodeRequest(Uint8Array.of(COMMAND.PUT_SLOT, ...encodeCanonical(m as never)));
    expect(r.ok ? 'ok' : r.status).toBe(status);
  });

  it('encoders refuse out-of-range arguments with INVALID_ARGUMENT', () => {
    const bad: Request[] = [
      { command: 'GET_SLOT', slot: 300 },
      { command: 'GET_SLOT', slot: -1 },
      { command: 'SET_TIME', timeSec: U64_MAX + 1n },
      { command: 'PUT_SLOT', params: { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 4, counter: 0n } }, wrappedSeed: blob },
      { command: 'PUT_SLOT', params: { slot: 0, touch: 'never', otp: { type: 'ocra', suite: 'not a suite' } }, wrappedSeed: blob },
    ];
    for (const req of bad) {
      expect(() => encodeRequest(req)).toThrow(ProtocolError);
      try {
        encodeRequest(req);
      } catch (e) {
        expect((e as ProtocolError).code).toBe('INVALID_ARGUMENT');
      }
    }
  });
});

const RESPONSES: { [C in CommandName]: ResponseBodies[C] } = {
  GET_INFO: {
    model: 'TF-1',
    firmwareVersion: '1.0.0',
    serial: 'TF00000001',
    capabilities: 0x1b,
    slotCount: 4,
    slotsUsed: 1,
    state: 'PROVISIONED',
    rtcTimeSec: 1_700_000_000n,
    pinRetries: 8,
    devicePublicKey: new Uint8Array(65).fill(4),
    attestationSignature: new Uint8Array(64).fill(9),
  },
  AUTHENTICATE: { pinRetries: 8 },
  PUT_SLOT: { kcv: Uint8Array.of(1, 2, 3) },
  GET_SLOT: { params: { slot: 1, touch: 'never', otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: 0n } }, kcv: Uint8Array.of(1, 2, 3) },
  DELETE_SLOT: {},
  LOCK: {},
  CALCULATE: { code: '755224', counter: 0n },
  SET_TIME: {},
  GET_TIME: { timeSec: 59n, valid: true },
  SELF_TEST: { passed: false, failed: ['hmac-sha1', 'flash'] },
  RESET: {},
};

describe('responses', () => {
  it.each(Object.keys(RESPONSES) as CommandName[])('%s round-trips', (command) => {
    const body = RESPONSES[command];
    const bytes = encodeResponse(command, body as never);
    expect(bytes[0]).toBe(STATUS.OK);
    expect(decodeResponse(command, bytes)).toEqual({ ok: true, value: { status: 'OK', body } });
  });

  it('GET_INFO without an RTC omits key 8', () => {
    const { rtcTimeSec: _drop, ...noRtc } = RESPONSES.GET_INFO;
    const bytes = encodeResponse('GET_INFO', noRtc);
    const back = decodeResponse('GET_INFO', bytes);
    expect(back.ok && back.value.status === 'OK' && back.value.body.rtcTimeSec).toBe(undefined);
  });

  it('status-only responses decode to their status name; unknown statuses decode as OTHER', () => {
    expect(decodeResponse('GET_INFO', encodeStatus('PIN_BLOCKED'))).toEqual({ ok: true, value: { status: 'PIN_BLOCKED' } });
    expect(decodeResponse('LOCK', Uint8Array.of(0x6e))).toEqual({ ok: true, value: { status: 'OTHER' } });
  });

  it.each([
    ['empty', 'GET_TIME', '', 'INVALID_LENGTH'],
    ['error status with a body', 'GET_TIME', '21a0', 'INVALID_LENGTH'],
    ['OK without a body', 'GET_TIME', '00', 'INVALID_CBOR'],
    ['OK with trailing byte', 'LOCK', '00a000', 'INVALID_CBOR'],
    ['missing valid flag', 'GET_TIME', '00a10100', 'MISSING_PARAMETER'],
    ['unknown key', 'LOCK', '00a10100', 'UNKNOWN_KEY'],
    ['code not digits', 'CALCULATE', '00a10162313a', 'INVALID_PARAMETER'],
  ] as const)('rejects %s', (_name, command, hex, status) => {
    const r = decodeResponse(command, hexToBytes(hex));
    expect(r.ok ? 'ok' : r.status).toBe(status);
  });

  it('GET_INFO rejects slotsUsed > slotCount and a short public key', () => {
    expect(() => encodeResponse('GET_INFO', { ...RESPONSES.GET_INFO, slotsUsed: 5 })).toThrow(ProtocolError);
    expect(() => encodeResponse('GET_INFO', { ...RESPONSES.GET_INFO, devicePublicKey: new Uint8Array(33) })).toThrow(ProtocolError);
  });
});
