/**
 * The protocol registries: every number that crosses the wire lives here, once (STYLE.md rule 12).
 *
 * These tables ONLY GROW. A value, once shipped, keeps its meaning forever; a retired name is never reused
 * and a retired number is never reassigned. Each table is an `as const` object with a derived union type, so
 * a typo is a compile error and an exhaustive `switch` is checked by the compiler.
 *
 * Normative text: docs/protocol.md. Report-layer values are those of FIDO CTAP 2.1 section 11.2 (CTAPHID) so
 * that HID analysers decode our traffic; message-layer values are tokenforge's own.
 */
import type { OtpType } from '../otp/otp-params.ts';
import type { HashAlgorithm } from '../otp/params.ts';

// ---------------------------------------------------------------------------------------------------------
// Report layer (docs/protocol.md §2), values from CTAP 2.1 §11.2.9

/** Size of one report (HID packet) in bytes. */
export const REPORT_SIZE = 64;
/** Payload bytes in an INIT packet: CID(4) CMD(1) BCNT(2) DATA(57). */
export const INIT_DATA_SIZE = REPORT_SIZE - 7;
/** Payload bytes in a CONT packet: CID(4) SEQ(1) DATA(59). */
export const CONT_DATA_SIZE = REPORT_SIZE - 5;
/** Highest CONT sequence number (SEQ has bit 7 clear). */
export const MAX_SEQ = 0x7f;
/** Largest message a report stream can carry: 57 + 128 * 59 = 7609 bytes. */
export const MAX_MESSAGE_SIZE = INIT_DATA_SIZE + (MAX_SEQ + 1) * CONT_DATA_SIZE;
/** The broadcast channel: only INIT may use it. */
export const BROADCAST_CID = 0xffffffff;
/** Channel 0 is reserved and always invalid. */
export const RESERVED_CID = 0;
/** A CONT packet must follow the previous packet of its message within this time, or the message is dropped. */
export const INTER_PACKET_TIMEOUT_MS = 500;
/** The device sends KEEPALIVE at least this often while a request is processing or waiting for the user. */
export const KEEPALIVE_INTERVAL_MS = 100;
/** Length of the INIT nonce. */
export const INIT_NONCE_SIZE = 8;
/** Length of the INIT response: nonce(8) CID(4) version(1) major(1) minor(1) build(1) capabilities(1). */
export const INIT_RESPONSE_SIZE = 17;
/** The CTAPHID protocol version byte in the INIT response. */
export const CTAPHID_PROTOCOL_VERSION = 2;

/** HID commands (without the INIT-packet bit 7; the packet carries `cmd | 0x80`). */
export const HID_CMD = {
  PING: 0x01,
  MSG: 0x03, // CTAP1 only; tokenforge devices answer ERR_INVALID_CMD
  LOCK: 0x04, // CTAPHID_LOCK; not supported by tokenforge devices (ERR_INVALID_CMD)
  INIT: 0x06,
  WINK: 0x08,
  CBOR: 0x10,
  CANCEL: 0x11,
  KEEPALIVE: 0x3b,
  ERROR: 0x3f,
} as const;
export type HidCmdName = keyof typeof HID_CMD;
export type HidCmd = (typeof HID_CMD)[HidCmdName];

/** Payload byte of an ERROR response (CTAP 2.1 §11.2.9.1.6). */
export const HID_ERROR = {
  INVALID_CMD: 0x01,
  INVALID_PAR: 0x02,
  INVALID_LEN: 0x03,
  INVALID_SEQ: 0x04,
  MSG_TIMEOUT: 0x05,
  CHANNEL_BUSY: 0x06,
  LOCK_REQUIRED: 0x0a,
  INVALID_CHANNEL: 0x0b,
  OTHER: 0x7f,
} as const;
export type HidErrorName = keyof typeof HID_ERROR;
export type HidErrorValue = (typeof HID_ERROR)[HidErrorName];

/** Payload byte of a KEEPALIVE packet. */
export const KEEPALIVE_STATUS = {
  PROCESSING: 0x01,
  UPNEEDED: 0x02,
} as const;
export type KeepaliveStatusName = keyof typeof KEEPALIVE_STATUS;

/** Capability flags in the INIT response (CTAP 2.1 §11.2.9.1.3). */
export const HID_CAPABILITY = {
  WINK: 0x01,
  CBOR: 0x04,
  NMSG: 0x08, // "no MSG": the device does not implement CTAPHID_MSG
} as const;

// ---------------------------------------------------------------------------------------------------------
// Serial carriage (docs/protocol.md §3)

/** Bytes appended to a report before COBS: CRC-32 (IEEE 802.3, reflected, little-endian). */
export const FRAME_CRC_SIZE = 4;
/** Decoded frame size: report + CRC. */
export const FRAME_PAYLOAD_SIZE = REPORT_SIZE + FRAME_CRC_SIZE;
/** COBS encoding of a 68-byte payload is exactly 69 bytes (one overhead byte per 254). */
export const FRAME_ENCODED_SIZE = FRAME_PAYLOAD_SIZE + 1;
/** The frame delimiter. */
export const FRAME_DELIMITER = 0x00;

// ---------------------------------------------------------------------------------------------------------
// Message layer (docs/protocol.md §4): first byte of a CBOR request

export const COMMAND = {
  GET_INFO: 0x01,
  AUTHENTICATE: 0x02,
  PUT_SLOT: 0x03,
  GET_SLOT: 0x04,
  DELETE_SLOT: 0x05,
  LOCK: 0x06,
  CALCULATE: 0x07,
  SET_TIME: 0x08,
  GET_TIME: 0x09,
  SELF_TEST: 0x0a,
  RESET: 0x0b,
} as const;
export type CommandName = keyof typeof COMMAND;
export type CommandValue = (typeof COMMAND)[CommandName];

/** First byte of a CBOR response. 0x00 is success; everything else carries no body. */
export const STATUS = {
  OK: 0x00,
  INVALID_COMMAND: 0x01,
  INVALID_PARAMETER: 0x02,
  INVALID_LENGTH: 0x03,
  INVALID_CBOR: 0x10,
  MISSING_PARAMETER: 0x11,
  UNEXPECTED_TYPE: 0x12,
  UNKNOWN_KEY: 0x13,
  NOT_AUTHENTICATED: 0x20,
  PIN_INVALID: 0x21,
  PIN_BLOCKED: 0x22,
  WRONG_STATE: 0x23,
  SLOT_LOCKED: 0x24,
  NO_SUCH_SLOT: 0x25,
  SLOT_EMPTY: 0x26,
  UNWRAP_FAILED: 0x27,
  TIME_ROLLBACK: 0x28,
  UNSUPPORTED: 0x29,
  OPERATION_DENIED: 0x2a,
  KEEPALIVE_CANCEL: 0x2d, // same value as CTAP2_ERR_KEEPALIVE_CANCEL
  USER_ACTION_TIMEOUT: 0x2f, // same value as CTAP2_ERR_USER_ACTION_TIMEOUT
  SELF_TEST_FAILED: 0x30,
  STORAGE_FAILURE: 0x31,
  COUNTER_EXHAUSTED: 0x32,
  RTC_INVALID: 0x33,
  OTHER: 0x7f,
} as const;
export type StatusName = keyof typeof STATUS;
export type StatusValue = (typeof STATUS)[StatusName];

/** Reverse lookups (built once). */
function reverse<T extends Record<string, number>>(table: T): Map<number, keyof T> {
  const m = new Map<number, keyof T>();
  for (const [k, v] of Object.entries(table)) m.set(v, k as keyof T);
  return m;
}
const STATUS_BY_VALUE = reverse(STATUS);
const COMMAND_BY_VALUE = reverse(COMMAND);
const HID_ERROR_BY_VALUE = reverse(HID_ERROR);
const HID_CMD_BY_VALUE = reverse(HID_CMD);

export function statusName(value: number): StatusName | undefined {
  return STATUS_BY_VALUE.get(value);
}
export function commandName(value: number): CommandName | undefined {
  return COMMAND_BY_VALUE.get(value);
}
export function hidErrorName(value: number): HidErrorName | undefined {
  return HID_ERROR_BY_VALUE.get(value);
}
export function hidCmdName(value: number): HidCmdName | undefined {
  return HID_CMD_BY_VALUE.get(value);
}

// ---------------------------------------------------------------------------------------------------------
// Enumerations carried inside messages

/** Device life-cycle state (GET_INFO key 7). */
export const DEVICE_STATE = {
  FACTORY: 0,
  PROVISIONED: 1,
  LOCKED: 2,
  PIN_BLOCKED: 3,
} as const;
export type DeviceStateName = keyof typeof DEVICE_STATE;

/** Slot type (PUT_SLOT key 2): the wire code of each otp/otp-params.ts OtpType (the names live there, once). */
export const SLOT_TYPE = { hotp: 0, totp: 1, ocra: 2 } as const satisfies Record<OtpType, number>;

/** HMAC algorithm (PUT_SLOT key 3): the wire code of each otp/params.ts HashAlgorithm. */
export const ALGORITHM = { SHA1: 0, SHA256: 1, SHA512: 2 } as const satisfies Record<HashAlgorithm, number>;

/** Touch policy (PUT_SLOT key 9): whether CALCULATE waits for the button. */
export const TOUCH_POLICY = { never: 0, always: 1 } as const;
export type TouchPolicyName = keyof typeof TOUCH_POLICY;

/** Capability bits (GET_INFO key 4). */
export const CAPABILITY = {
  HOTP: 0x01,
  TOTP: 0x02,
  OCRA: 0x04,
  RTC: 0x08,
  BUTTON: 0x10,
  DISPLAY: 0x20,
  TEST_MODE: 0x40, // CALCULATE and RESET do not wait for the button (simulators and bench fixtures only)
} as const;
export type CapabilityName = keyof typeof CAPABILITY;

// ---------------------------------------------------------------------------------------------------------
// CBOR map keys, per message. Keys are small unsigned integers; each table only grows.

/** The wrapped-blob map (seed or PIN wrapped to the device key, docs/protocol.md §6). */
export const WRAPPED_KEY = { ephemeralPublicKey: 1, nonce: 2, ciphertext: 3 } as const;

export const GET_INFO_RESPONSE_KEY = {
  model: 1,
  firmwareVersion: 2,
  serial: 3,
  capabilities: 4,
  slotCount: 5,
  slotsUsed: 6,
  state: 7,
  rtcTimeSec: 8,
  pinRetries: 9,
  devicePublicKey: 10,
  attestationSignature: 11,
} as const;

export const AUTHENTICATE_REQUEST_KEY = { wrappedPin: 1 } as const;
export const AUTHENTICATE_RESPONSE_KEY = { pinRetries: 1 } as const;

/** PUT_SLOT request; GET_SLOT response reuses keys 1..9 and adds 11. */
export const SLOT_KEY = {
  slot: 1,
  type: 2,
  algorithm: 3,
  digits: 4,
  counter: 5,
  periodSec: 6,
  t0Sec: 7,
  ocraSuite: 8,
  touch: 9,
  wrappedSeed: 10,
  kcv: 11,
} as const;
export const PUT_SLOT_RESPONSE_KEY = { kcv: 1 } as const;
export const SLOT_REQUEST_KEY = { slot: 1 } as const;

export const CALCULATE_REQUEST_KEY = { slot: 1, challenge: 2 } as const;
export const CALCULATE_RESPONSE_KEY = { code: 1, counter: 2, timeStep: 3 } as const;

export const SET_TIME_REQUEST_KEY = { timeSec: 1, allowRollback: 2 } as const;
export const GET_TIME_RESPONSE_KEY = { timeSec: 1, valid: 2 } as const;

export const SELF_TEST_RESPONSE_KEY = { passed: 1, failed: 2 } as const;

/** Bounds checked by the codecs. */
export const LIMITS = {
  maxSlots: 255,
  maxStringBytes: 64,
  minPinBytes: 4,
  maxPinBytes: 64,
  minSeedBytes: 1,
  maxSeedBytes: 128,
  maxOcraChallengeBytes: 128,
  maxSelfTestNames: 32,
  kcvSize: 3,
  publicKeySize: 65,
  signatureSize: 64,
  gcmNonceSize: 12,
  gcmTagSize: 16,
} as const;
