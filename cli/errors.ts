/**
 * CLI error reporting: every failure is one line on stderr naming the problem and the fix, never a stack
 * trace. Usage errors (bad flags, bad values) exit 2; runtime failures (a port that does not answer, a
 * verifier that refuses) exit 1. Set TOKENFORGE_DEBUG=1 to get the stack as well.
 */
import { TokenforgeError } from '../otp/errors.ts';

/** A problem with what the user typed: exit code 2. */
export class UsageError extends TokenforgeError<'USAGE'> {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** Codes that are the user's input rather than the world's state; they exit 2. */
const INPUT_CODES = new Set([
  'USAGE',
  'INVALID_KEY',
  'INVALID_DIGITS',
  'INVALID_COUNTER',
  'INVALID_ALGORITHM',
  'INVALID_TIME',
  'INVALID_PERIOD',
  'INVALID_BASE32',
  'INVALID_HEX',
  'INVALID_URI',
  'INVALID_OCRA_SUITE',
  'INVALID_OCRA_INPUT',
  'INVALID_CODE',
  'INVALID_ARGUMENT',
]);

export function exitCodeFor(e: unknown): number {
  // Every layer names input problems INVALID_*: they are the user's to fix, like a bad flag.
  if (e instanceof TokenforgeError && (INPUT_CODES.has(e.code) || e.code.startsWith('INVALID_'))) return 2;
  return 1;
}

export function reportError(e: unknown): number {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`tokenforge: error: ${message}\n`);
  if (process.env['TOKENFORGE_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return exitCodeFor(e);
}
