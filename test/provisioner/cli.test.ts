/**
 * `tokenforge provision` as a real process (node dist/tokenforge.js, the build): --help, one-line usage errors with exit 2,
 * an in-process simulated batch (--sim) with a CSV export and JSON lines, refusing to overwrite a journal,
 * --resume of a finished batch, and a journal keyed by a passphrase. Also the target parsers (malformed
 * input), --discover's VID:PID filter, and the progress/report renderings.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgress, exitCodeOf, formatReport, type BatchReport } from '../../provisioner/progress.ts';
import { discoverPorts, parseTargetDescriptors, parseUsbId } from '../../provisioner/targets.ts';
import { runCli } from './provision.helpers.ts';
import { VECTORS } from './pskc.helpers.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-provcli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const oneLineError = (stderr: string): void => {
  expect(stderr).toMatch(/^tokenforge: error: .+\n$/);
  expect(stderr).not.toMatch(/\n\s+at /);
};

describe('tokenforge provision (CLI)', () => {
  it('documents every option in --help', () => {
    const r = runCli(['provision', '--help']);
    expect(r.status).toBe(0);
    for (const o of ['--generate', '--pskc', '--psk', '--password', '--private-key', '--csv', '--port', '--tcp', '--sim', '--profile', '--discover', '--verifier', '--api-key', '--export', '--format', '--export-psk', '--export-password', '--journal', '--resume', '--admin-pin', '--json']) {
      expect(r.stdout).toContain(o);
    }
  });

  it.each([
    [['provision', '--sim', '1', '--admin-pin', '1234'], /seed source/],
    [['provision', '--generate', '1', '--admin-pin', '1234', '--trust-test-attestation'], /give the tokens/],
    [['provision', '--resume', 'x.journal', '--generate', '1', '--sim', '1', '--admin-pin', '1234'], /do not give a seed source/],
    [['provision', '--generate', '1', '--tcp', 'nohost', '--admin-pin', '1234', '--trust-test-attestation'], /--tcp/],
    [['provision', '--generate', '1', '--port', '/dev/null', '--admin-pin', '1234'], /trust anchor/],
    [['provision', '--generate', '1', '--sim', '1', '--admin-pin', '12'], /--admin-pin/],
    [['provision', '--generate', '1', '--sim', '1', '--admin-pin', '1234', '--export', 'x'], /--export FILE and --format/],
  ])('usage error, exit 2: %j', (args, re) => {
    const r = runCli(args, { env: { TOKENFORGE_ADMIN_PIN: '' } });
    expect(r.status).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toMatch(re);
  });

  it('provisions simulated tokens, exports CSV (0600), prints JSON lines, and never prints a seed', () => {
    const journal = join(dir, 'sim.journal');
    const csv = join(dir, 'out.csv');
    const r = runCli(['provision', '--generate', '3', '--sim', '3', '--admin-pin', '4711', '--journal', journal, '--export', csv, '--format', 'csv', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const report = events.find((e) => e['event'] === 'report')!;
    expect(report).toMatchObject({ total: 3, ok: 3, failed: 0, seedsLeft: 0, export: { file: csv, format: 'csv', count: 3 } });
    expect(events.filter((e) => e['event'] === 'token' && e['status'] === 'ok')).toHaveLength(3);
    expect(statSync(csv).mode & 0o777).toBe(0o600);
    expect(statSync(`${journal}.key`).mode & 0o777).toBe(0o600);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows).toHaveLength(4);
    // No secret from the export appears in the output.
    const header = rows[0]!.split(',');
    const si = header.indexOf('secret_hex');
    expect(si).toBeGreaterThanOrEqual(0);
    for (const row of rows.slice(1)) {
      const secret = row.split(',')[si]!;
      expect(secret.length).toBeGreaterThan(20);
      expect(r.stdout).not.toContain(secret);
    }
    // The journal is not overwritten by a new batch...
    const again = runCli(['provision', '--generate', '3', '--sim', '3', '--admin-pin', '4711', '--journal', journal]);
    expect(again.status).toBe(1);
    oneLineError(again.stderr);
    expect(again.stderr).toMatch(/--resume/);
    // ...and --resume with other (new) tokens finds no seed left for them, reported per token.
    const resumed = runCli(['provision', '--resume', journal, '--sim', '1', '--admin-pin', '4711', '--json']);
    expect(resumed.status).toBe(1);
    const last = JSON.parse(resumed.stdout.trim().split('\n').pop()!) as { failures: { code: string }[] };
    expect(last.failures[0]!.code).toBe('NO_SEED_LEFT');
  });

  it('loads an encrypted RFC 6030 PSKC file (Figure 6, pre-shared key) into a token and exports its seed', () => {
    const ref = JSON.parse(readFileSync(join(VECTORS, 'EXPECTED.json'), 'utf8')) as { files: Record<string, { preshared_key_hex: string; expected_secret_hex: string }> };
    const fig6 = ref.files['rfc6030-figure6-aes128cbc-preshared-hmacsha1.xml']!;
    const out = join(dir, 'fig6.csv');
    const r = runCli(['provision', '--pskc', join(VECTORS, 'rfc6030-figure6-aes128cbc-preshared-hmacsha1.xml'), '--psk', fig6.preshared_key_hex, '--sim', '1', '--admin-pin', '4711', '--journal', join(dir, 'fig6.journal'), '--export', out, '--format', 'csv']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [, row] = readFileSync(out, 'utf8').trim().split('\n');
    const cols = row!.split(',');
    // The RFC's secret (as published in the reference data), 8 digits, counter 1 after the check at counter 0.
    expect(cols[1]).toBe(fig6.expected_secret_hex);
    expect(cols.slice(2, 7)).toEqual(['hotp', 'sha1', '8', '', '1']);
  });

  it('keeps the journal key in a passphrase when asked', () => {
    const journal = join(dir, 'pass.journal');
    const r = runCli(['provision', '--generate', '1', '--sim', '1', '--admin-pin', '4711', '--journal', journal, '--journal-passphrase-env', 'TF_TEST_PASS'], { env: { TF_TEST_PASS: 'a long test passphrase' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(`${journal}.key`)).toBe(false);
    const wrong = runCli(['provision', '--resume', journal, '--sim', '1', '--admin-pin', '4711', '--journal-passphrase-env', 'TF_TEST_PASS'], { env: { TF_TEST_PASS: 'not the passphrase' } });
    expect(wrong.status).toBe(1);
    oneLineError(wrong.stderr);
    expect(wrong.stderr).toMatch(/journal key/);
  });
});

describe('target parsing and discovery', () => {
  it('parses ports and tcp targets, refusing malformed and duplicate ones', () => {
    expect(parseTargetDescriptors({ ports: ['/dev/ttyACM0'], tcp: ['127.0.0.1:7000', 'tcp://h:1'] })).toEqual([
      { kind: 'port', path: '/dev/ttyACM0' },
      { kind: 'tcp', hostPort: '127.0.0.1:7000' },
      { kind: 'tcp', hostPort: 'h:1' },
    ]);
    for (const bad of [{ ports: [''] }, { ports: ['tcp://x:1'] }, { tcp: ['x'] }, { tcp: ['x:99999'] }, { tcp: [':1'] }, { ports: ['/a', '/a'] }, { tcp: ['h:1', 'tcp://h:1'] }]) {
      expect(() => parseTargetDescriptors(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(parseUsbId('1209:7F00')).toEqual({ vendorId: '1209', productId: '7f00' });
    for (const bad of ['', '1209', '1209:', '12:34', '1209:7f00:1', 'zzzz:0000', ' 1209 : 7f00 ']) expect(() => parseUsbId(bad)).toThrow();
  });

  it('--discover keeps only ports with a matching VID:PID, case-insensitively', async () => {
    const list = async () => [
      { path: '/dev/ttyACM1', vendorId: '1209', productId: '7F00' },
      { path: '/dev/ttyACM0', vendorId: '1209', productId: '7f00' },
      { path: '/dev/ttyUSB0', vendorId: '0403', productId: '6001' },
      { path: '/dev/ttyS0' },
    ];
    expect(await discoverPorts(undefined, list)).toEqual([
      { kind: 'port', path: '/dev/ttyACM0' },
      { kind: 'port', path: '/dev/ttyACM1' },
    ]);
    expect(await discoverPorts([{ vendorId: '0403', productId: '6001' }], list)).toEqual([{ kind: 'port', path: '/dev/ttyUSB0' }]);
    // serialport's real enumeration runs (this machine has no tokenforge USB device).
    expect(Array.isArray(await discoverPorts())).toBe(true);
  });
});

describe('progress and report', () => {
  const report: BatchReport = {
    total: 3,
    ok: 2,
    failed: 1,
    durationMs: 2000,
    tokensPerSec: 1,
    seedsLeft: 1,
    results: [
      { target: '/dev/pts/1', tokenSerial: 'A1', seedId: 1, status: 'ok', durationMs: 5 },
      { target: '/dev/pts/2', tokenSerial: 'A2', seedId: 2, status: 'ok', durationMs: 5 },
      { target: '/dev/pts/3', tokenSerial: 'A3', seedId: null, status: 'failed', code: 'PIN_INVALID', reason: 'wrong PIN', step: 'authenticate', durationMs: 5 },
    ],
  };

  it('JSON lines: one object per event, the report lists failures', () => {
    const out: string[] = [];
    const p = createProgress({ mode: 'json', write: (s) => out.push(s) });
    p.start(3, {});
    p.step('/dev/pts/1', null, 'identify');
    for (const r of report.results) p.token(r);
    p.finish(report);
    const events = out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e['event'])).toEqual(['start', 'step', 'token', 'token', 'token', 'report']);
    expect(events[5]).toMatchObject({ ok: 2, failed: 1, failures: [{ tokenSerial: 'A3', code: 'PIN_INVALID' }] });
    expect(exitCodeOf(report)).toBe(1);
    expect(exitCodeOf({ ...report, failed: 0, ok: 3, results: report.results.slice(0, 2) })).toBe(0);
    expect(exitCodeOf({ ...report, total: 0, ok: 0, failed: 0, results: [] })).toBe(1);
  });

  it('TTY: redraws one line with a bar and prints failures above it', () => {
    let t = 0;
    const out: string[] = [];
    const p = createProgress({ mode: 'tty', write: (s) => out.push(s), now: () => (t += 200), columns: 80 });
    p.start(3, {});
    for (const r of report.results) p.token(r);
    p.finish(report);
    const text = out.join('');
    expect(text).toContain('\r\x1b[2K[');
    expect(text).toMatch(/\[#{16}\.{8}\] 2\/3/);
    expect(text).toContain('FAILED  A3 on /dev/pts/3: PIN_INVALID: wrong PIN (at authenticate)');
    expect(formatReport(report)).toContain('provisioned 2 of 3 token(s)');
    for (const line of text.split(/\r|\n/).map((l) => l.replace(/\x1b\[2K/, '')).filter((l) => l.startsWith('['))) expect(line.length).toBeLessThanOrEqual(80);
  });
});
