/**
 * The protocol layer's error class (STYLE.md rule 7): one `ProtocolError` whose `code` is
 *  - the name of a device status (registry.ts STATUS, except OK) when the token answered with that status,
 *  - `HID_<name>` when the token answered a report-layer ERROR (registry.ts HID_ERROR),
 *  - or one of the host-side codes below (transport and codec failures).
 * Callers switch on `code`; messages never contain PINs or seeds.
 */
import { TokenforgeError } from '../otp/errors.ts';
import type { HidErrorName, StatusName } from './registry.ts';

export type HostErrorCode =
  | 'INVALID_ARGUMENT' // the caller passed a value the protocol cannot carry
  | 'BAD_RESPONSE' // the token's answer does not parse or does not match the request
  | 'TIMEOUT' // no (complete) answer within the deadline
  | 'DISCONNECTED' // the link went away while a request was outstanding
  | 'CLOSED' // the transport or client was closed by this side
  | 'PORT_NOT_FOUND' // the serial path does not exist
  | 'PORT_OPEN_FAILED' // the port exists but could not be opened (permissions, busy)
  | 'CONNECTION_REFUSED' // tcp:// target refused or unreachable
  | 'NOT_A_TOKEN' // something answered, but not with tokenforge reports
  | 'CANCELLED' // the host cancelled a request (AbortSignal)
  | 'ATTESTATION_INVALID' // the device key is not signed by a trusted attestation key
  | 'UNWRAP_FAILED'; // device side: a wrapped blob does not authenticate

export type ProtocolErrorCode = Exclude<StatusName, 'OK'> | `HID_${HidErrorName}` | HostErrorCode;

export class ProtocolError extends TokenforgeError<ProtocolErrorCode> {}
