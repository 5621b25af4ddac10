/**
 * Reading seeds and other sensitive values from the command line without putting them in the process list.
 *
 * A value `V` may be given as:
 *   V        literally (visible to other users in `ps`; fine for test keys)
 *   @FILE    the contents of FILE, surrounding whitespace trimmed
 *   -        all of standard input, surrounding whitespace trimmed
 * Keys: `--key` is hex, `--key-base32` is base32 (see otp/base32.ts for what it accepts). Exactly one of them.
 * Errors are UsageError naming the argument and the fix; they never repeat the value.
 */
import { readFileSync, statSync } from 'node:fs';
import { decodeBase32 } from '../otp/base32.ts';
import { TokenforgeError } from '../otp/errors.ts';
import { hexToBytes } from '../otp/hex.ts';
import { UsageError } from './errors.ts';

const MAX_FILE_BYTES = 64 * 1024;

export interface KeyArgs {
  key?: string | undefined;
  'key-base32'?: string | undefined;
}

/** Resolves `@FILE` and `-` for the argument `name`; other values are returned as they are. */
export function readIndirect(value: string, name: string, readStdin: () => string = () => readFileSync(0, 'utf8')): string {
  if (value === '-') {
    try {
      return readStdin().trim();
    } catch (e) {
      throw new UsageError(`${name} -: cannot read standard input (${(e as NodeJS.ErrnoException).code ?? 'error'}); pipe the value in or give @FILE`);
    }
  }
  if (value.startsWith('@')) {
    const path = value.slice(1);
    if (path.length === 0) throw new UsageError(`${name} @FILE: the file name is missing; write ${name} @/path/to/file`);
    try {
      // A key file holds one key: refuse something else (a disk image, /dev/zero) before reading it whole.
      const st = statSync(path);
      if (st.isFile() && st.size > MAX_FILE_BYTES) {
        throw new UsageError(`${name} @${path}: the file has ${st.size} bytes; a key or value file holds at most ${MAX_FILE_BYTES}`);
      }
      return readFileSync(path, 'utf8').trim();
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new UsageError(`${name} @${path}: cannot read the file (${code}); check the path and its permissions`);
    }
  }
  return value;
}

/** The key bytes from `--key HEX|@FILE|-` or `--key-base32 B32|@FILE|-`. The caller wipes them after use. */
export function readKey(args: KeyArgs, readStdin?: () => string): Uint8Array {
  const hex = args.key;
  const b32 = args['key-base32'];
  if (hex !== undefined && b32 !== undefined) throw new UsageError('give the key once: either --key HEX or --key-base32 B32, not both');
  if (hex === undefined && b32 === undefined) {
    throw new UsageError('a key is required: --key HEX, --key-base32 B32, --key @FILE or --key - (stdin)');
  }
  const name = hex !== undefined ? '--key' : '--key-base32';
  const text = readIndirect((hex ?? b32)!, name, readStdin);
  if (text.length === 0) throw new UsageError(`${name}: the key is empty; give at least one byte (RFC 4226 recommends 20)`);
  if (hex !== undefined) {
    const bad = text.search(/[^0-9a-fA-F]/);
    if (bad >= 0) {
      throw new UsageError(
        `--key: character ${bad + 1} is not a hex digit; give the key as hex digits 0-9 a-f (e.g. 00112233445566778899aabbccddeeff) or use --key-base32`,
      );
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = hex !== undefined ? hexToBytes(text, '--key') : decodeBase32(text, '--key-base32');
  } catch (e) {
    if (e instanceof TokenforgeError && hex !== undefined) {
      throw new UsageError(`${e.message}; give the key as hex digits (e.g. 00112233445566778899aabbccddeeff) or use --key-base32`);
    }
    throw e;
  }
  if (bytes.length === 0) throw new UsageError(`${name}: the key is empty; give at least one byte (RFC 4226 recommends 20)`);
  return bytes;
}
