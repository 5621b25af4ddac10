/**
 * Progress and the final report of a provisioning batch. Three renderings of the same events:
 *   - 'tty':  one status line redrawn in place (\r, at most ~10 times a second) with a bar, counts and rate;
 *             failures are printed above it as they happen;
 *   - 'json': one JSON object per line (`event`: "start" | "step" | "token" | "report"), for machines;
 *   - 'plain': one line per finished token (logs, pipes).
 * The report is a value (`BatchReport`) so that the CLI derives its exit code from it: 0 only when every
 * token of the batch succeeded. No event carries a seed.
 */
import type { Step } from './journal/index.ts';

export type ProgressMode = 'tty' | 'json' | 'plain';

export interface TokenResult {
  target: string;
  tokenSerial: string | null;
  seedId: number | null;
  status: 'ok' | 'failed';
  /** The fault code (faults.ts) when failed. */
  code?: string;
  reason?: string;
  /** The step that failed. */
  step?: Step;
  /** True when the token was already complete in the journal (a resumed batch). */
  alreadyDone?: boolean;
  durationMs: number;
}

export interface BatchReport {
  total: number;
  ok: number;
  failed: number;
  durationMs: number;
  tokensPerSec: number;
  /** Seeds of the journal not (yet) in a finished token. */
  seedsLeft: number;
  results: TokenResult[];
  export?: { file: string; format: string; count: number };
}

export interface Progress {
  start(total: number, info: Record<string, unknown>): void;
  step(target: string, tokenSerial: string | null, step: Step): void;
  token(result: TokenResult): void;
  /** Prints the final report (and erases the live line). */
  finish(report: BatchReport): void;
  /** A free-form notice (resume summary, export written). */
  note(message: string, data?: Record<string, unknown>): void;
}

export interface ProgressOptions {
  mode: ProgressMode;
  write: (s: string) => void;
  now?: () => number;
  columns?: number;
}

export function createProgress(o: ProgressOptions): Progress {
  const now = o.now ?? Date.now;
  const columns = Math.max(40, o.columns ?? 100);
  let total = 0;
  let ok = 0;
  let failed = 0;
  let started = now();
  let lastDraw = 0;
  let lastStep = '';
  let lineShown = false;

  const json = (obj: Record<string, unknown>): void => o.write(`${JSON.stringify(obj)}\n`);

  function line(): string {
    const done = ok + failed;
    const width = 24;
    const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
    const secs = (now() - started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const s = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ok ${ok}  failed ${failed}  ${rate.toFixed(1)} tokens/s  ${lastStep}`;
    return s.length > columns - 1 ? s.slice(0, columns - 1) : s;
  }
  function draw(force = false): void {
    if (o.mode !== 'tty') return;
    const t = now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    o.write(`\r\x1b[2K${line()}`);
    lineShown = true;
  }
  function above(text: string): void {
    if (lineShown) o.write('\r\x1b[2K');
    o.write(`${text}\n`);
    lineShown = false;
    draw(true);
  }

  return {
    start(n, info) {
      total = n;
      started = now();
      if (o.mode === 'json') json({ event: 'start', total: n, ...info });
      else if (o.mode === 'plain') o.write(`provisioning ${n} token(s)\n`);
      draw(true);
    },
    step(target, tokenSerial, step) {
      if (o.mode === 'json') json({ event: 'step', target, serial: tokenSerial, step });
      lastStep = `${tokenSerial ?? target}: ${step}`;
      draw();
    },
    token(r) {
      if (r.status === 'ok') ok++;
      else failed++;
      if (o.mode === 'json') {
        json({ event: 'token', ...r });
        return;
      }
      const text = r.status === 'ok' ? `ok      ${r.tokenSerial ?? '?'} on ${r.target}${r.alreadyDone ? ' (already done)' : ''}` : `FAILED  ${r.tokenSerial ?? '?'} on ${r.target}: ${r.code}: ${r.reason}${r.step ? ` (at ${r.step})` : ''}`;
      if (o.mode === 'plain') o.write(`${text}\n`);
      else if (r.status === 'failed') above(text);
      else draw();
    },
    note(message, data) {
      if (o.mode === 'json') json({ event: 'note', message, ...(data ?? {}) });
      else if (o.mode === 'plain') o.write(`${message}\n`);
      else above(message);
    },
    finish(report) {
      if (o.mode === 'json') {
        json({ event: 'report', ...report, results: undefined, failures: report.results.filter((r) => r.status === 'failed') });
        return;
      }
      if (o.mode === 'tty' && lineShown) o.write(`\r\x1b[2K${line()}\n`);
      o.write(formatReport(report));
    },
  };
}

/** The human-readable final report. */
export function formatReport(r: BatchReport): string {
  const lines = [
    '',
    `provisioned ${r.ok} of ${r.total} token(s) in ${(r.durationMs / 1000).toFixed(1)} s (${r.tokensPerSec.toFixed(1)} tokens/s); ${r.failed} failed; ${r.seedsLeft} seed(s) not yet in a finished token`,
  ];
  const failures = r.results.filter((x) => x.status === 'failed');
  if (failures.length > 0) {
    lines.push('failed tokens:');
    for (const f of failures) lines.push(`  ${f.tokenSerial ?? '(unknown serial)'} on ${f.target}: ${f.code}: ${f.reason}${f.step ? ` (at ${f.step})` : ''}`);
    lines.push('fix the cause and run again with --resume JOURNAL: finished tokens are skipped, a seed already assigned to a token is only ever completed on that token');
  }
  if (r.export) lines.push(`export: ${r.export.count} token(s) written to ${r.export.file} (${r.export.format})`);
  return `${lines.join('\n')}\n`;
}

/** Exit code of a batch: 0 only when every token succeeded and nothing is left over. */
export function exitCodeOf(r: BatchReport): number {
  return r.failed === 0 && r.total > 0 ? 0 : 1;
}
