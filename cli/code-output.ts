/**
 * Bulk code output for `tokenforge otp hotp|totp --window W`: the codes of consecutive counters, one a line,
 * streamed to a writable at the engine's batch speed.
 *
 * Invariants: the bytes are exactly `engine.code(c) + '\n'` for every counter of every range, in order (the
 * output of the per-code loop this replaces); memory stays bounded whatever the window: the values of one
 * chunk (CHUNK_CODES counters through `engine.batch`) are formatted into a reusable byte buffer
 * (`writeCodeLines`, no string per code), and when `write()` returns false the next chunk waits for 'drain'.
 * A buffer the stream still holds (an asynchronous write in progress) is never reused: the next chunk gets a
 * fresh one. On Linux, writes to files, pipes and terminals complete synchronously, so one buffer serves the
 * whole run.
 *
 * A stream that fails or closes early (`| head`: EPIPE) rejects the wait with its error, at the 'error'
 * event, so that the CLI's EPIPE handler (cli/bin.js), which listens first, ends the process quietly.
 */
import type { Writable } from 'node:stream';
import type { HotpEngine } from '../otp/engine.ts';
import { writeCodeLines } from '../otp/params.ts';

/** Counters per batch call and per write: 4096 codes are 28-45 KiB of output. */
export const CHUNK_CODES = 4096;

/** `count` consecutive counters from `start`. */
export interface CodeRange {
  readonly start: bigint;
  readonly count: number;
}

/** Writes the codes of every range to `stream`; resolves when the last chunk has been handed to it. */
export async function writeCodeRanges(stream: Writable, engine: HotpEngine, ranges: readonly CodeRange[], chunkCodes = CHUNK_CODES): Promise<void> {
  if (!Number.isInteger(chunkCodes) || chunkCodes < 1) throw new RangeError(`chunkCodes: ${chunkCodes} must be a positive integer`);
  const digits = engine.digits;
  const values = new Uint32Array(chunkCodes);
  let buf = Buffer.allocUnsafe(chunkCodes * (digits + 1));
  for (const { start, count } of ranges) {
    for (let done = 0; done < count; ) {
      const n = Math.min(chunkCodes, count - done);
      const chunk = n === chunkCodes ? values : values.subarray(0, n);
      engine.batch(start + BigInt(done), chunk);
      const end = writeCodeLines(chunk, digits, buf, 0);
      const ok = stream.write(buf.subarray(0, end));
      if (stream.writableLength !== 0) buf = Buffer.allocUnsafe(buf.length);
      if (!ok) await drained(stream);
      done += n;
    }
  }
}

/** Resolves at 'drain'; rejects when the stream errors or closes first. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.closed) {
      reject(stream.errored ?? new Error('output closed before all codes were written'));
      return;
    }
    const settle = (err: unknown): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = (): void => settle(undefined);
    const onError = (e: unknown): void => settle(e);
    const onClose = (): void => settle(stream.errored ?? new Error('output closed before all codes were written'));
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
