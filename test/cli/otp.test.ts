/**
 * The `tokenforge otp` commands as a real process (node dist/tokenforge.js, the build): every RFC vector, the key sources
 * (hex, base32, @FILE, stdin), verify's exit codes, URIs, --help, and a table of bad arguments that must each
 * give one line naming the argument, exit 2, and no stack trace. Spawns are grouped (repeated --time, paired
 * --question/--counter) to keep the number of processes small.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKeyUri, loadRfc4226, loadRfc6238, loadRfc6287, ocraMode, type Rfc6287Vector } from '../../conformance/vectors.ts';
import { pool, runCli, type RunResult } from './otp.helpers.ts';

const rfc4226 = loadRfc4226();
const rfc6238 = loadRfc6238();
const rfc6287 = loadRfc6287();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-cli-otp-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function lines(r: RunResult): string[] {
  return r.stdout.trim().split('\n');
}

function expectOk(r: RunResult): void {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

// Each spawn costs about a second of CPU (tsx startup), and the machine is shared: generous timeouts.
const SLOW = { timeout: 240_000 };

describe('RFC vectors through the CLI', SLOW, () => {
  it('RFC 4226 Appendix D: hotp -w 9 prints the ten codes', async () => {
    const r = await runCli(['otp', 'hotp', '--key', rfc4226.key_hex, '--counter', '0', '--window', '9']);
    expectOk(r);
    expect(lines(r)).toEqual(rfc4226.vectors.map((v) => v.expected));
  });

  it('RFC 6238 Appendix B: all 18 rows (one process per hash, --time repeated)', async () => {
    const modes = ['SHA1', 'SHA256', 'SHA512'] as const;
    const results = await pool(
      modes.map((mode) => () => {
        const rows = rfc6238.vectors.filter((v) => v.mode === mode);
        const args = ['otp', 'totp', '--key', rows[0]!.key_hex, '--algorithm', mode.toLowerCase(), '--digits', '8', '--period', String(rfc6238.X), '--t0', String(rfc6238.T0)];
        for (const v of rows) args.push('--time', String(v.time));
        return runCli(args).then((r) => ({ r, rows }));
      }),
    );
    let n = 0;
    for (const { r, rows } of results) {
      expectOk(r);
      expect(lines(r)).toEqual(rows.map((v) => v.expected));
      n += rows.length;
    }
    expect(n).toBe(18);
  });

  it('RFC 6287 Appendix C: all 70 responses, every mode (one process per suite and mode)', async () => {
    const groups = new Map<string, Rfc6287Vector[]>();
    for (const v of rfc6287.vectors) {
      const k = [ocraMode(v), v.suite, v.key_hex, v.pin, v.timestamp_decimal, v.session].join('|');
      groups.set(k, [...(groups.get(k) ?? []), v]);
    }
    const jobs = [...groups.values()].map((rows, gi) => () => {
      const v0 = rows[0]!;
      const mode = ocraMode(v0);
      // Alternate the key source: hex on the command line, or a file.
      let keyArg = v0.key_hex;
      if (gi % 2 === 1) {
        keyArg = `@${join(dir, `key-${gi}.hex`)}`;
        writeFileSync(keyArg.slice(1), `${v0.key_hex}\n`);
      }
      const args = ['otp', 'ocra', '--suite', v0.suite, '--key', keyArg, '--mode', mode];
      for (const v of rows) {
        if (mode === 'server' || mode === 'client') args.push('--client-challenge', v.client_challenge!, '--server-challenge', v.server_challenge!);
        else args.push('--question', v.question);
        if (v.counter !== null) args.push('--counter', String(v.counter));
      }
      if (v0.pin !== null) args.push('--pin', v0.pin);
      if (v0.timestamp_decimal !== null) args.push('--timestamp', gi % 2 ? `0x${v0.timestamp}` : String(v0.timestamp_decimal));
      return runCli(args).then((r) => ({ r, rows }));
    });
    let n = 0;
    for (const { r, rows } of await pool(jobs)) {
      expectOk(r);
      expect(lines(r)).toEqual(rows.map((v) => v.expected));
      n += rows.length;
    }
    expect(n).toBe(70);
  });
});

describe('key sources, verify and URIs', SLOW, () => {
  const row = rfc4226.vectors[3]!;
  const b32 = loadKeyUri().derived_examples_NOT_FROM_WIKI.rfc4226_key_base32;

  it('--key-base32, --key - (stdin) and --key-base32 @FILE give the same codes', async () => {
    const file = join(dir, 'key.b32');
    writeFileSync(file, `${b32.toLowerCase()}\n`);
    const [a, b, c] = await pool([
      () => runCli(['otp', 'hotp', '--key-base32', b32, '-c', String(row.counter)]),
      () => runCli(['otp', 'hotp', '--key', '-', '-c', String(row.counter)], { input: `${rfc4226.key_hex}\n` }),
      () => runCli(['otp', 'hotp', '--key-base32', `@${file}`, '-c', String(row.counter)]),
    ]);
    for (const r of [a!, b!, c!]) {
      expectOk(r);
      expect(r.stdout).toBe(`${row.expected}\n`);
    }
  });

  it('verify prints the counter or time step and exits 1 when nothing matches', async () => {
    const t = rfc6238.vectors.find((v) => v.mode === 'SHA1' && v.time === 1111111109)!;
    const [hit, totpHit, miss] = await pool([
      () => runCli(['otp', 'verify', '--key', rfc4226.key_hex, '--code', row.expected, '--window', '9']),
      () => runCli(['otp', 'verify', '--type', 'totp', '--key', t.key_hex, '-d', '8', '--code', t.expected, '--time', String(t.time + 30), '--window', '1']),
      () => runCli(['otp', 'verify', '--key', rfc4226.key_hex, '--code', row.expected, '--counter', String(row.counter + 1), '--window', '5']),
    ]);
    expectOk(hit!);
    expect(hit!.stdout).toBe(`${row.counter}\n`);
    expectOk(totpHit!);
    expect(BigInt(totpHit!.stdout.trim())).toBe(BigInt(`0x${t.T_hex}`));
    expect(miss!.code).toBe(1);
    expect(miss!.stdout).toBe('');
    expect(miss!.stderr).toMatch(/^tokenforge: no match: .*counters 4\.\.9\n$/);
  });

  it('uri parse hides the secret unless asked; uri format writes the wiki example', async () => {
    const ex = loadKeyUri().wiki_examples[0]!;
    const [parsed, shown, formatted] = await pool([
      () => runCli(['otp', 'uri', 'parse', ex.uri]),
      () => runCli(['otp', 'uri', 'parse', '--show-secret', '-'], { input: ex.uri }),
      () => runCli(['otp', 'uri', 'format', '--key', ex.secret_hex, '--issuer', 'Example', '--account', 'alice@google.com']),
    ]);
    expectOk(parsed!);
    const view = JSON.parse(parsed!.stdout) as Record<string, unknown>;
    expect(view).toMatchObject({ type: 'totp', issuer: 'Example', account: 'alice@google.com', secretBytes: ex.secret_hex.length / 2 });
    expect(parsed!.stdout).not.toContain(ex.secret_hex);
    expectOk(shown!);
    expect(JSON.parse(shown!.stdout).secretHex).toBe(ex.secret_hex);
    expectOk(formatted!);
    expect(formatted!.stdout).toBe(`${ex.uri}&algorithm=SHA1&digits=6&period=30\n`);
  });
});

describe('help', SLOW, () => {
  it('otp commands have --help with examples (a sample; the others share the same builder helpers)', async () => {
    const cmds = [['otp', 'hotp'], ['otp', 'ocra'], ['otp', 'verify']];
    const results = await pool(cmds.map((c) => () => runCli([...c, '--help'])));
    results.forEach((r, i) => {
      expectOk(r);
      expect(r.stdout, cmds[i]!.join(' ')).toMatch(/Examples:/);
      expect(r.stdout).toMatch(/Options:/);
    });
  });
});

describe('bad arguments: one line naming the argument, exit 2, no stack trace', SLOW, () => {
  const K = rfc4226.key_hex;
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /no command given/],
    ['unknown command', ['bogus'], /unknown command "bogus"/],
    ['no key', ['otp', 'hotp'], /a key is required: --key HEX/],
    ['non-hex key', ['otp', 'hotp', '--key', '31zz'], /--key: character 3 is not a hex digit/],
    ['odd-length hex key', ['otp', 'hotp', '--key', '313'], /--key: odd number of hex digits/],
    ['empty key', ['otp', 'hotp', '--key', ''], /--key: the key is empty/],
    ['non-base32 key', ['otp', 'totp', '--key-base32', 'JBSW1Y3D'], /--key-base32: character 5 is '1'/],
    ['digits 5', ['otp', 'hotp', '--key', K, '--digits', '5'], /--digits: 5 is outside 6\.\.10/],
    ['digits 11', ['otp', 'totp', '--key', K, '--digits', '11'], /--digits: 11 is outside 6\.\.10/],
    ['negative counter', ['otp', 'hotp', '--key', K, '--counter', '-1'], /--counter: "-1" is not a non-negative integer/],
    ['non-integer counter', ['otp', 'hotp', '--key', K, '--counter', '2.5'], /--counter: "2\.5" is not a non-negative integer/],
    ['malformed OCRA suite', ['otp', 'ocra', '--suite', 'OCRA-1:HOTP-SHA1-6:QZ08', '--key', K, '-q', '1'], /OCRA suite: .* needs a challenge QFxx/],
    ['malformed otpauth URI', ['otp', 'uri', 'parse', 'otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP'], /otpauth URI: the counter parameter is required/],
    ['code of the wrong length', ['otp', 'verify', '--key', K, '--code', '12345'], /--code: must be exactly 6 decimal digits/],
  ];
  it('rejects each bad argument', async () => {
    const results = await pool(cases.map(([, args]) => () => runCli(args)));
    results.forEach((r, i) => {
      const [name, , message] = cases[i]!;
      expect(r.code, name).toBe(2);
      expect(r.stdout, name).toBe('');
      expect(r.stderr, name).toMatch(/^tokenforge: error: [^\n]+\n$/);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr, name).not.toMatch(/\n\s+at /);
    });
  });
});
