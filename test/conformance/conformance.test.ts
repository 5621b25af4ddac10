/**
 * The conformance runner and its reports: suite selection by target kind, a crashing suite becoming a failed
 * case, the text/JSON/JUnit renderers (the JUnit XML is parsed back and checked element by element, with
 * hostile names), and `tokenforge conformance run` as a real process with its exit codes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderJson, renderJunit, renderReport, renderText, xmlEscape } from '../../conformance/report.ts';
import { ConformanceError, reportPassed, runConformance, selectSuites, targetKind, type RunReport } from '../../conformance/runner.ts';
import { SUITES } from '../../conformance/suites.ts';
import type { CaseResult, Suite } from '../../conformance/types.ts';
import { loadRfc4226, loadRfc6238, loadRfc6287 } from '../../conformance/vectors.ts';
import { pool, runCli } from '../cli/otp.helpers.ts';

const fake = (name: string, target: Suite['target'], results: Omit<CaseResult, 'suite'>[] | Error): Suite => ({
  name,
  description: `fake ${name}`,
  target,
  run: async () => {
    if (results instanceof Error) throw results;
    return results.map((r) => ({ ...r, suite: name }));
  },
});

const registry: Suite[] = [
  fake('lib', 'none', [{ group: 'g', name: 'ok', status: 'pass', durationMs: 1 }]),
  fake('wire', 'transport', [{ group: 'serial', name: 'ping', status: 'pass', durationMs: 2 }]),
  fake('http', 'http', [{ group: 'verify', name: 'replay', status: 'fail', durationMs: 3, message: 'accepted twice' }]),
];

describe('runner', () => {
  it('classifies targets', () => {
    expect(targetKind(undefined)).toBe('none');
    expect(targetKind('http://127.0.0.1:8080')).toBe('http');
    expect(targetKind('HTTPS://x.example')).toBe('http');
    expect(targetKind('tcp://127.0.0.1:7000')).toBe('transport');
    expect(targetKind('/dev/pts/3')).toBe('transport');
    expect(targetKind('./token-0')).toBe('transport');
    expect(targetKind('COM3')).toBe('transport');
    expect(() => targetKind('tcp://no-port')).toThrow(ConformanceError);
    expect(() => targetKind('ftp://x')).toThrow(ConformanceError);
  });

  it('"all" picks library suites plus those fitting the target', () => {
    expect(selectSuites('all', undefined, registry).map((s) => s.name)).toEqual(['lib']);
    expect(selectSuites('all', 'tcp://h:1', registry).map((s) => s.name)).toEqual(['lib', 'wire']);
    expect(selectSuites('all', 'http://h', registry).map((s) => s.name)).toEqual(['lib', 'http']);
  });

  it('a named suite must exist and get the target kind it needs', () => {
    expect(() => selectSuites('nope', undefined, registry)).toThrow(/does not exist; choose one of: lib, wire, http, all/);
    expect(() => selectSuites('http', undefined, registry)).toThrow(/needs --target http/);
    expect(() => selectSuites('wire', 'http://h', registry)).toThrow(/needs --target tcp/);
    try {
      selectSuites('nope', undefined, registry);
    } catch (e) {
      expect((e as ConformanceError).code).toBe('INVALID_SUITE');
    }
  });

  it('passes target, API key and timeout to remote suites only; a crash becomes a failed case', async () => {
    const seen: unknown[] = [];
    const spy: Suite = { name: 'spy', description: '', target: 'http', run: async (ctx) => (seen.push({ ...ctx, log: undefined }), []) };
    const crash = fake('crash', 'none', new Error('boom'));
    const report = await runConformance({ suite: 'all', target: 'http://h', apiKey: 'k', timeoutMs: 123, registry: [crash, spy] });
    expect(seen).toEqual([{ target: 'http://h', apiKey: 'k', timeoutMs: 123, log: undefined }]);
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ suite: 'crash', status: 'fail', message: expect.stringMatching(/boom/) });
    expect(reportPassed(report)).toBe(false);
  });

  it('the registry has the otp suite; it passes every vector (counts from the files)', async () => {
    expect(SUITES.some((s) => s.name === 'otp' && s.target === 'none')).toBe(true);
    const report = await runConformance({ suite: 'otp', timeoutMs: 1000 });
    expect(report.failed).toBe(0);
    const byGroup = (g: string): CaseResult[] => report.results.filter((r) => r.group === g);
    expect(byGroup('rfc6238')).toHaveLength(loadRfc6238().vectors.length);
    expect(byGroup('rfc6287')).toHaveLength(loadRfc6287().vectors.length);
    expect(byGroup('rfc4226').filter((r) => r.name.startsWith('hotp counter'))).toHaveLength(loadRfc4226().vectors.length);
    expect(byGroup('rfc4226').some((r) => r.name === 'section 5.4 truncation example')).toBe(true);
    for (const r of report.results) expect(r.source, r.name).toBeTruthy();
    expect(new Set(report.results.map((r) => `${r.group}/${r.name}`)).size).toBe(report.results.length);
    expect(reportPassed(report)).toBe(true);
  });
});

const hostile: RunReport = {
  suites: ['x<&>'],
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 12.5,
  passed: 1,
  failed: 1,
  skipped: 1,
  results: [
    { suite: 'x<&>', group: 'g"1\'', name: 'a & b <c>', status: 'pass', durationMs: 1 },
    { suite: 'x<&>', group: 'g"1\'', name: 'fails ]]> "q"', status: 'fail', durationMs: 2, message: 'expected <1> & got \u0001\u0007 "2"', source: 'RFC <x>' },
    { suite: 'x<&>', group: 'other', name: 'skipped', status: 'skip', durationMs: 0, message: 'no target' },
  ],
};

describe('reports', () => {
  it('text: one line per case and a summary', () => {
    const text = renderText(hostile).trim().split('\n');
    expect(text).toHaveLength(4);
    expect(text[1]).toMatch(/^FAIL {2}x<&>\/g"1' {2}fails/);
    expect(text[3]).toMatch(/^FAIL: 1 passed, 1 failed, 1 skipped \(3 cases/);
  });

  it('JSON: every case with its result', () => {
    const parsed = JSON.parse(renderJson(hostile)) as RunReport;
    expect(parsed.results.map((r) => r.status)).toEqual(['pass', 'fail', 'skip']);
    expect(parsed.failed).toBe(1);
  });

  it('JUnit: valid XML that parses back to the same cases, hostile characters escaped', () => {
    const xml = renderJunit(hostile);
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase'].includes(n) }).parse(xml);
    const root = doc.testsuites;
    expect(root).toMatchObject({ tests: '3', failures: '1', skipped: '1', errors: '0' });
    expect(root.testsuite.map((s: { name: string }) => s.name)).toEqual([`x<&>.g"1'`, 'x<&>.other']);
    const [first, second] = root.testsuite;
    expect(first).toMatchObject({ tests: '2', failures: '1', skipped: '0' });
    expect(first.testcase[0]).toMatchObject({ name: 'a & b <c>', classname: `x<&>.g"1'` });
    expect(first.testcase[1].failure.message).toBe('expected <1> & got \uFFFD\uFFFD "2"');
    expect(first.testcase[1].failure['#text']).toMatch(/source: RFC <x>/);
    expect(second.testcase[0].skipped).toMatchObject({ message: 'no target' });
    expect(xmlEscape('\u0000a&')).toBe('\uFFFDa&amp;');
  });

  it('JUnit of the real otp suite is valid too', async () => {
    const report = await runConformance({ suite: 'otp', timeoutMs: 1000 });
    const xml = renderReport(report, 'junit');
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase'].includes(n) }).parse(xml);
    const cases = doc.testsuites.testsuite.flatMap((s: { testcase: unknown[] }) => s.testcase);
    expect(cases).toHaveLength(report.results.length);
  });
});

describe('tokenforge conformance (real process)', { timeout: 240_000 }, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tf-conf-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('run --suite otp in text, json (stdout) and junit (--output) formats; bad suite/target exit 2', async () => {
    const junitFile = join(dir, 'report.xml');
    const [text, json, junit, badSuite, badTarget] = await pool([
      () => runCli(['conformance', 'run', '--suite', 'otp']),
      () => runCli(['conformance', 'run', '--suite', 'otp', '--format', 'json']),
      () => runCli(['conformance', 'run', '--suite', 'otp', '--format', 'junit', '--output', junitFile]),
      () => runCli(['conformance', 'run', '--suite', 'nope']),
      () => runCli(['conformance', 'run', '--suite', 'otp', '--target', 'ftp://x']),
    ]);
    expect(text!.code).toBe(0);
    const lines = text!.stdout.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^PASS: \d+ passed, 0 failed/);
    expect(lines.slice(0, -1).every((l) => l.startsWith('PASS  otp/'))).toBe(true);

    expect(json!.code).toBe(0);
    const report = JSON.parse(json!.stdout) as RunReport;
    expect(report.suites).toEqual(['otp']);
    expect(report.failed).toBe(0);
    expect(report.results.length).toBe(lines.length - 1);
    expect(report.results.every((r) => r.status === 'pass' && typeof r.source === 'string')).toBe(true);

    expect(junit!.code).toBe(0);
    expect(junit!.stdout).toMatch(/^PASS: /);
    expect(XMLValidator.validate(readFileSync(junitFile, 'utf8'))).toBe(true);

    expect(badSuite!.code).toBe(2);
    expect(badSuite!.stderr).toMatch(/^tokenforge: error: --suite: suite "nope" does not exist; choose one of: .*otp/m);
    expect(badTarget!.code).toBe(2);
    expect(badTarget!.stderr).toMatch(/--target: target "ftp:\/\/x" is neither/);
  });
});
