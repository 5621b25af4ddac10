/**
 * Errors of the verifier layer (STYLE.md rule 7): one subclass of TokenforgeError with its own code union.
 * The HTTP layer maps each code to a status in one table (http/handler.ts); messages never carry a seed.
 */
import { TokenforgeError } from '../otp/errors.ts';

export type VerifierErrorCode =
  | 'INVALID_REQUEST' // malformed JSON, wrong type, unknown field, bad value: 400
  | 'UNAUTHENTICATED' // missing or unknown API key: 401
  | 'FORBIDDEN' // key lacks the role: 403
  | 'NOT_FOUND' // no such token or route: 404
  | 'METHOD_NOT_ALLOWED' // 405
  | 'CONFLICT' // serial registered with a different secret: 409
  | 'SEED_IN_USE' // the seed is or was registered under another serial (details.serial): 409
  | 'SEED_REVOKED' // the seed was revoked; it never comes back: 409
  | 'VERSION_MISMATCH' // a precondition on the token's version failed (details.currentVersion): 409
  | 'INVALID_TRANSITION' // the state table (domain/states.ts) refuses the action in the token's state: 409
  | 'PAYLOAD_TOO_LARGE' // body over the limit: 413
  | 'UNSUPPORTED_MEDIA_TYPE' // not application/json: 415
  | 'BUSY' // could not get the token row (contention): 503
  | 'MASTER_KEY' // master key file missing, unreadable, malformed, or lacks a key id: runtime
  | 'STORE' // database problem: 500
  | 'AUDIT_BROKEN'; // the audit chain does not verify

export class VerifierError extends TokenforgeError<VerifierErrorCode> {
  /** Optional JSON pointer-ish path of the offending field, for INVALID_REQUEST. */
  readonly field?: string;
  /** Extra members of the JSON error object (e.g. `serial` of SEED_IN_USE, `currentVersion`). Never secrets. */
  readonly details?: Readonly<Record<string, string | number | null>>;
  constructor(code: VerifierErrorCode, message: string, options?: { cause?: unknown; field?: string; details?: Record<string, string | number | null> }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.field !== undefined) this.field = options.field;
    if (options?.details !== undefined) this.details = options.details;
  }
}
