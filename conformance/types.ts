/**
 * Conformance suite contract. A suite is data-driven: its cases come from vector files (conformance/vectors/)
 * or from a documented list of behaviours, and it runs against a target (the library itself, a token on a
 * serial port or TCP, a verifier URL). Results are plain data that the reporters (text, JSON, JUnit) render.
 */

export type CaseStatus = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  /** Suite name, e.g. "otp", "transport", "verifier". */
  suite: string;
  /** Group within the suite, e.g. "rfc4226", "serial". Used as the JUnit testsuite name. */
  group: string;
  /** Case name, unique within the group. */
  name: string;
  status: CaseStatus;
  durationMs: number;
  /** Why it failed or was skipped (never secret material). */
  message?: string;
  /** Where the expected value comes from, e.g. "RFC 4226 Appendix D". */
  source?: string;
}

export interface SuiteContext {
  /** What to test: a serial path, tcp://host:port, or an http(s):// URL; undefined for library suites. */
  target?: string;
  /** API key for targets that need one (verifier). */
  apiKey?: string;
  /** Per-operation timeout for remote targets. */
  timeoutMs: number;
  /** Progress messages (stderr in the CLI). */
  log(message: string): void;
}

export interface Suite {
  name: string;
  description: string;
  /** 'none': runs against the library; 'transport': a port or tcp://; 'http': a verifier URL. */
  target: 'none' | 'transport' | 'http';
  run(ctx: SuiteContext): Promise<CaseResult[]>;
}
