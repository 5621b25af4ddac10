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
  | 'CONFLICT' // serial registered with a different secret, or an action the token's state refuses: 409
  | 'PAYLOAD_TOO_LARGE' // body over the limit: 413
  | 'UNSUPPORTED_MEDIA_TYPE' // not application/json: 415
  | 'BUSY' // could not get the token row (contention): 503
  | 'MASTER_KEY' // master key file missing, unreadable, malformed, or lacks a key id: runtime
  | 'STORE' // database problem: 500
  | 'AUDIT_BROKEN'; // the audit chain does not verify

export class VerifierError extends TokenforgeError<VerifierErrorCode> {
  /** Optional JSON pointer-ish path of the offending field, for INVALID_REQUEST. */
  readonly field?: string;
  constructor(code: VerifierErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.field !== undefined) this.field = options.field;
  }
}
