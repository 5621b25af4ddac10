/**
 * The conformance runner: picks suites from the registry (suites.ts), runs them one after another against the
 * target, and returns every case's result. `all` selects every library suite (target kind 'none') plus the
 * suites whose target kind fits the given target (a serial path or tcp:// for 'transport', an http(s):// URL
 * for 'http'). A suite that throws becomes one failed case, so a crash never hides as a pass.
 */
import { TokenforgeError } from '../otp/errors.ts';
import { SUITES } from './suites.ts';
import type { CaseResult, Suite, SuiteContext } from './types.ts';

export type ConformanceErrorCode = 'INVALID_SUITE' | 'INVALID_TARGET';

export class ConformanceError extends TokenforgeError<ConformanceErrorCode> {}

export type TargetKind = Suite['target'];

/** The kind of a target string: http(s):// URLs are verifiers; tcp:// and device paths are transports. */
export function targetKind(target: string | undefined): TargetKind {
  if (target === undefined || target === '') return 'none';
  if (/^https?:\/\//i.test(target)) return 'http';
  if (/^tcp:\/\/[^/]+:\d+$/i.test(target)) return 'transport';
  // Anything without a URL scheme is a device path: /dev/ttyACM0, ./token-0 (a PTY symlink), COM3.
  if (!/^[a-z][a-z0-9+.-]*:/i.test(target) || /^COM\d+$/i.test(target)) return 'transport';
  throw new ConformanceError(
    'INVALID_TARGET',
    `target "${target}" is neither a device path (/dev/ttyACM0), tcp://HOST:PORT nor an http(s):// URL`,
  );
}

export function selectSuites(name: string, target: string | undefined, registry: readonly Suite[] = SUITES): Suite[] {
  const kind = targetKind(target);
  if (name === 'all') return registry.filter((s) => s.target === 'none' || s.target === kind);
  const suite = registry.find((s) => s.name === name);
  if (!suite) {
    const names = registry.map((s) => s.name).join(', ');
    throw new ConformanceError('INVALID_SUITE', `suite "${name}" does not exist; choose one of: ${names}, all`);
  }
  if (suite.target !== 'none' && suite.target !== kind) {
    const example = suite.target === 'http' ? 'http://127.0.0.1:8080' : 'tcp://127.0.0.1:7000 or /dev/ttyACM0';
    throw new ConformanceError('INVALID_TARGET', `suite "${name}" needs --target ${example}`);
  }
  return [suite];
}

export interface RunOptions {
  suite: string;
  target?: string;
  apiKey?: string;
  timeoutMs: number;
  log?: (message: string) => void;
  /** The suites to choose from; default the registry. */
  registry?: readonly Suite[];
}

export interface RunReport {
  suites: string[];
  target?: string;
  startedAt: string;
  durationMs: number;
  results: CaseResult[];
  passed: number;
  failed: number;
  skipped: number;
}

export async function runConformance(options: RunOptions): Promise<RunReport> {
  const suites = selectSuites(options.suite, options.target, options.registry);
  const log = options.log ?? (() => {});
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const results: CaseResult[] = [];
  for (const suite of suites) {
    const ctx: SuiteContext = { timeoutMs: options.timeoutMs, log };
    if (suite.target !== 'none' && options.target !== undefined) ctx.target = options.target;
    if (options.apiKey !== undefined) ctx.apiKey = options.apiKey;
    log(`running suite ${suite.name}`);
    const t0 = performance.now();
    try {
      results.push(...(await suite.run(ctx)));
    } catch (e) {
      results.push({
        suite: suite.name,
        group: suite.name,
        name: 'suite run',
        status: 'fail',
        durationMs: performance.now() - t0,
        message: `the suite stopped with an error: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }
  const report: RunReport = {
    suites: suites.map((s) => s.name),
    startedAt,
    durationMs: performance.now() - started,
    results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    skipped: results.filter((r) => r.status === 'skip').length,
  };
  if (options.target !== undefined) report.target = options.target;
  return report;
}

/** Exit status rule: success only when no case failed and at least one case passed. */
export function reportPassed(report: RunReport): boolean {
  return report.failed === 0 && report.passed > 0;
}
