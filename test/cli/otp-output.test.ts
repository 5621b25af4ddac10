/**
 * The streamed `--window` output (cli/code-output.ts): byte for byte what the per-code loop it replaced
 * printed (`engine.code(c) + '\n'` for every counter, now the reference here) and what node:crypto computes,
 * for all three hashes and every digit count 6..10, across chunk boundaries and the 2^32 counter carry;
 * bounded memory with back-pressure against a slow stream that keeps references to the chunks it was given
 * (a reused buffer would corrupt them); a failing or closed stream rejects instead of hanging. As a real
 * process: `hotp -w 9999` equals oathtool's output, a multi-`--time` totp window equals oathtool per time, and
 * `| head` (EPIPE) ends quietly with exit 0.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CHUNK_CODES, writeCodeRanges, type CodeRange } from '../../cli/code-output.ts';
import { createHotpEngine, type HotpEngine } from '../../otp/engine.ts';
import { ALGORITHMS, nodeValue, seeded } from '../otp/engine.helpers.ts';
import { BIN, runCli, runProcess } from './otp.helpers.ts';

/** Collects what is written, completing each write on a later turn; keeps the chunks by reference. */
class SlowSink extends Writable {
  readonly chunks: Uint8Array[] = [];
  maxBuffered = 0;
  drains = 0;

  constructor(highWaterMark: number) {
    super({ highWaterMark, decodeStrings: false });
    this.on('drain', () => this.drains++);
  }

  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    setImmediate(cb);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

/** Completes each write at once, as a file or a Linux pipe does. */
class SyncSink extends Writable {
  readonly chunks: Buffer[] = [];

  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    cb();
  }
}

/** What the CLI printed before streaming: one `engine.code()` per counter. */
function perCodeText(engine: HotpEngine, ranges: readonly CodeRange[]): string {
  let text = '';
  for (const { start, count } of ranges) for (let c = start; c < start + BigInt(count); c++) text += `${engine.code(c)}\n`;
  return text;
}

describe('writeCodeRanges output', () => {
  const rng = seeded(4226n);
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: digits 6..10, 3000 codes across the 2^32 carry plus a second range, equal to the per-code loop and node:crypto`, async () => {
      for (const digits of [6, 7, 8, 9, 10]) {
        const key = rng.bytes(algorithm === 'SHA512' ? 64 : algorithm === 'SHA256' ? 32 : 20);
        const engine = createHotpEngine(key, { algorithm, digits });
        const ranges: CodeRange[] = [
          { start: 0xffffffffn - 1500n, count: 3000 },
          { start: rng.u64() >> 1n, count: 97 },
        ];
        const want = perCodeText(engine, ranges);
        const crypto = ranges.flatMap(({ start, count }) => Array.from({ length: count }, (_, i) => `${String(nodeValue(algorithm, key, start + BigInt(i), digits)).padStart(digits, '0')}\n`)).join('');
        expect(want === crypto, `${algorithm}/${digits}: per-code loop vs node:crypto`).toBe(true);
        for (const chunkCodes of [CHUNK_CODES, 1000, 7]) {
          const sink = new SyncSink();
          await writeCodeRanges(sink, engine, ranges, chunkCodes);
          expect(Buffer.concat(sink.chunks).toString('latin1') === want, `${algorithm}/${digits}, chunks of ${chunkCodes}`).toBe(true);
        }
        engine.destroy();
      }
    });
  }

  it('back-pressure: a slow stream never holds more than its high-water mark plus one chunk, and no chunk is overwritten', async () => {
    const engine = createHotpEngine(seeded(1n).bytes(20), { digits: 8 });
    const ranges: CodeRange[] = [{ start: 5n, count: 20_000 }];
    const sink = new SlowSink(1024);
    await writeCodeRanges(sink, engine, ranges, 500);
    await new Promise<void>((resolve) => sink.end(resolve));
    expect(sink.text() === perCodeText(engine, ranges)).toBe(true);
    expect(sink.drains).toBeGreaterThan(0);
    expect(sink.maxBuffered).toBeLessThanOrEqual(1024 + 500 * 9);
    engine.destroy();
  });

  it('a stream that fails mid-way rejects with its error; one that is already closed rejects at once', async () => {
    const engine = createHotpEngine(seeded(2n).bytes(20));
    let writes = 0;
    const failing = new Writable({
      highWaterMark: 64,
      write(_chunk, _enc, cb) {
        writes++;
        setImmediate(() => cb(writes === 3 ? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) : null));
      },
    });
    failing.on('error', () => {});
    await expect(writeCodeRanges(failing, engine, [{ start: 0n, count: 100_000 }], 100)).rejects.toMatchObject({ code: 'EPIPE' });
    expect(writes).toBeLessThan(10);

    const closed = new Writable({ highWaterMark: 64, write: (_c, _e, cb) => setImmediate(cb) });
    closed.destroy();
    await new Promise((resolve) => closed.once('close', resolve));
    await expect(writeCodeRanges(closed, engine, [{ start: 0n, count: 1000 }], 100)).rejects.toThrow();
    engine.destroy();
  });
});

describe('--window output as a process', { timeout: 240_000 }, () => {
  const KEY = '3132333435363738393031323334353637383930';

  it('hotp -w 9999 (10000 codes, three chunks) equals oathtool --hotp -w 9999', async () => {
    const [ours, theirs] = await Promise.all([
      runCli(['otp', 'hotp', '--key', KEY, '--counter', '4294960000', '--window', '9999']),
      runProcess('oathtool', ['--hotp', '--counter=4294960000', '--window=9999', KEY]),
    ]);
    expect(theirs.code).toBe(0);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    expect(ours.stdout.length).toBe(10_000 * 7);
    expect(ours.stdout === theirs.stdout).toBe(true);
  });

  it('totp with two --time values and -w 5000 equals oathtool --totp=SHA512 per time, one after the other', async () => {
    const key = '31323334353637383930313233343536373839303132333435363738393031323334353637383930313233343536373839303132333435363738393031323334';
    const times = [59, 20_000_000_000];
    const ours = await runCli(['otp', 'totp', '--key', key, '-a', 'sha512', '-d', '8', '-w', '5000', ...times.flatMap((t) => ['--time', String(t)])]);
    const theirs = await Promise.all(times.map((t) => runProcess('oathtool', ['--totp=SHA512', `--now=@${t}`, '--digits=8', '--window=5000', key])));
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    for (const t of theirs) expect(t.code).toBe(0);
    expect(ours.stdout === theirs.map((t) => t.stdout).join('')).toBe(true);
  });

  it('| head: a closed pipe (EPIPE) ends the window quietly with exit 0', async () => {
    const r = await runProcess('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" otp hotp --key ${KEY} --window 3000000 | head -n 3`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('755224\n287082\n359152\n');
  });
});
