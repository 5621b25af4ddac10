/**
 * One error taxonomy for all of tokenforge (STYLE.md rule 7).
 *
 * Every layer throws a subclass of `TokenforgeError` whose `code` is a member of that layer's union. Callers
 * (the CLI, the HTTP server, the wire-status mapper) switch on `code`, never on the message. Messages name the
 * problem and, where there is one, the fix; they never contain secret material.
 *
 * This file lives in otp/ because otp/ is the bottom of the dependency graph: every other layer may import it.
 */

export class TokenforgeError<C extends string = string> extends Error {
  readonly code: C;
  override readonly cause?: unknown;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Codes of the otp/ layer. */
export type OtpErrorCode =
  | 'INVALID_KEY'
  | 'INVALID_DIGITS'
  | 'INVALID_COUNTER'
  | 'INVALID_ALGORITHM'
  | 'INVALID_TIME'
  | 'INVALID_PERIOD'
  | 'INVALID_BASE32'
  | 'INVALID_HEX'
  | 'INVALID_URI'
  | 'INVALID_OCRA_SUITE'
  | 'INVALID_OCRA_INPUT'
  | 'INVALID_CODE'
  | 'INVALID_TYPE'
  | 'INVALID_ARGUMENT';

export class OtpError extends TokenforgeError<OtpErrorCode> {}

/** True when `e` is a TokenforgeError (of any layer). */
export function isTokenforgeError(e: unknown): e is TokenforgeError {
  return e instanceof TokenforgeError;
}
