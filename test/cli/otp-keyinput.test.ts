/** cli/key-input.ts in-process: every key source and every malformed key, without spawning. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/errors.ts';
import { readIndirect, readKey } from '../../cli/key-input.ts';
import { OtpError } from '../../otp/index.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-keyinput-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const HEX = '3132333435363738393031323334353637383930';
const B32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const BYTES = new TextEncoder().encode('12345678901234567890');

describe('key sources', () => {
  it('hex, base32, @FILE and stdin all give the same bytes', () => {
    const f = join(dir, 'k.hex');
    writeFileSync(f, `  ${HEX}\n`);
    const g = join(dir, 'k.b32');
    writeFileSync(g, `${B32.toLowerCase()}\n`);
    expect(readKey({ key: HEX })).toEqual(BYTES);
    expect(readKey({ 'key-base32': B32 })).toEqual(BYTES);
    expect(readKey({ key: `@${f}` })).toEqual(BYTES);
    expect(readKey({ 'key-base32': `@${g}` })).toEqual(BYTES);
    expect(readKey({ key: '-' }, () => `${HEX}\n`)).toEqual(BYTES);
    expect(readIndirect('plain', '--x')).toBe('plain');
  });
});

describe('malformed keys', () => {
  const big = (): string => {
    const p = join(dir, 'big');
    writeFileSync(p, 'a'.repeat(70_000));
    return `@${p}`;
  };
  const cases: [string, () => unknown, string, RegExp][] = [
    ['none', () => readKey({}), 'USAGE', /a key is required/],
    ['both', () => readKey({ key: HEX, 'key-base32': B32 }), 'USAGE', /not both/],
    ['empty hex', () => readKey({ key: '' }), 'USAGE', /--key: the key is empty/],
    ['empty base32', () => readKey({ 'key-base32': '  ' }), 'USAGE', /--key-base32: the key is empty/],
    ['empty file', () => (writeFileSync(join(dir, 'e'), '\n'), readKey({ key: `@${join(dir, 'e')}` })), 'USAGE', /the key is empty/],
    ['empty stdin', () => readKey({ key: '-' }, () => ''), 'USAGE', /the key is empty/],
    ['non-hex', () => readKey({ key: '31g2' }), 'USAGE', /--key: character 3 is not a hex digit/],
    ['odd hex', () => readKey({ key: '313' }), 'USAGE', /--key: odd number of hex digits/],
    ['bad base32', () => readKey({ 'key-base32': 'GEZ1' }), 'INVALID_BASE32', /--key-base32: character 4 is '1'/],
    ['base32 of zero bytes', () => readKey({ 'key-base32': '====' }), 'INVALID_BASE32', /padding/],
    ['missing file', () => readKey({ key: `@${join(dir, 'nope')}` }), 'USAGE', /cannot read the file \(ENOENT\)/],
    ['@ without a name', () => readKey({ key: '@' }), 'USAGE', /the file name is missing/],
    ['huge file', () => readKey({ key: big() }), 'USAGE', /at most 65536/],
    ['unreadable stdin', () => readKey({ key: '-' }, () => { throw Object.assign(new Error('x'), { code: 'EAGAIN' }); }), 'USAGE', /cannot read standard input \(EAGAIN\)/],
  ];
  it.each(cases)('%s', (_name, f, code, message) => {
    let caught: unknown;
    try {
      f();
    } catch (e) {
      caught = e;
    }
    expect(caught === undefined ? 'no error' : (caught as UsageError | OtpError).code).toBe(code);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toContain(HEX);
  });
});
