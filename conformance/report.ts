/**
 * Renderers for a conformance run: text (one line per case and a summary), JSON (the run with every case and
 * its result) and JUnit XML (testsuites > testsuite per suite/group > testcase, with failure/skipped elements;
 * every attribute and text XML-escaped, characters XML 1.0 forbids replaced).
 */
import type { CaseResult } from './types.ts';
import type { RunReport } from './runner.ts';

export const REPORT_FORMATS = ['text', 'json', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function summaryLine(report: RunReport): string {
  const verdict = report.failed === 0 && report.passed > 0 ? 'PASS' : 'FAIL';
  return `${verdict}: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped (${report.results.length} cases, suites: ${report.suites.join(', ')}) in ${report.durationMs.toFixed(0)} ms`;
}

export function renderText(report: RunReport): string {
  const lines = report.results.map((r) => {
    const tag = r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'SKIP';
    return `${tag}  ${r.suite}/${r.group}  ${r.name}${r.message ? `  -- ${r.message}` : ''}`;
  });
  lines.push(summaryLine(report));
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Escapes text for XML attributes and content; drops characters that XML 1.0 does not allow. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

export function renderJunit(report: RunReport): string {
  const groups = new Map<string, CaseResult[]>();
  for (const r of report.results) {
    const key = `${r.suite}.${r.group}`;
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="tokenforge conformance" tests="${report.results.length}" failures="${report.failed}" errors="0" skipped="${report.skipped}" time="${seconds(report.durationMs)}">`,
  );
  for (const [name, cases] of groups) {
    const failures = cases.filter((c) => c.status === 'fail').length;
    const skipped = cases.filter((c) => c.status === 'skip').length;
    const time = cases.reduce((a, c) => a + c.durationMs, 0);
    out.push(
      `  <testsuite name="${xmlEscape(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}" timestamp="${xmlEscape(report.startedAt.replace(/\.\d+Z$/, ''))}">`,
    );
    for (const c of cases) {
      const open = `    <testcase classname="${xmlEscape(name)}" name="${xmlEscape(c.name)}" time="${seconds(c.durationMs)}"`;
      if (c.status === 'pass') {
        out.push(`${open}/>`);
        continue;
      }
      out.push(`${open}>`);
      const msg = c.message ?? (c.status === 'fail' ? 'failed' : 'skipped');
      if (c.status === 'fail') {
        const body = c.source ? `${msg}\nsource: ${c.source}` : msg;
        out.push(`      <failure message="${xmlEscape(msg)}" type="mismatch">${xmlEscape(body)}</failure>`);
      } else {
        out.push(`      <skipped message="${xmlEscape(msg)}"/>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

export function renderReport(report: RunReport, format: ReportFormat): string {
  switch (format) {
    case 'text':
      return renderText(report);
    case 'json':
      return renderJson(report);
    case 'junit':
      return renderJunit(report);
  }
}
