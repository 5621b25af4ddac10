/**
 * The CLI's HTTP client for the verifier's admin API (docs/openapi.json): the `verifier tokens|batch|
 * keys` commands and the demo talk to a running server through it, as any other client would.
 *
 * Invariants:
 * - The API key comes from a file (`--api-key-file`) or the environment (`TOKENFORGE_API_KEY`), never from a
 *   flag value (argv is readable by every user of the machine through /proc); it is only ever sent in the
 *   Authorization header and never appears in an error.
 * - `request` never throws for an HTTP status: it returns the status and the parsed JSON. `call` turns any
 *   non-2xx answer into a `VerifierClientError` whose message names the server's error code and message and,
 *   where one is known, the fix; network failures are `UNREACHABLE`. Both exit 1 (the server said no, or did
 *   not answer); usage mistakes are caught before any request and exit 2.
 */
import { createVerifierClient as createJsonClient } from '../conformance/verifier-client.ts';
import { readFileSync } from 'node:fs';
import { TokenforgeError } from '../otp/errors.ts';
import { UsageError } from './errors.ts';

export const DEFAULT_VERIFIER_URL = 'http://127.0.0.1:8470';
export const API_KEY_ENV = 'TOKENFORGE_API_KEY';

export type VerifierClientErrorCode = 'REFUSED' | 'UNREACHABLE';

/** The server refused (status, its error code) or could not be reached. */
export class VerifierClientError extends TokenforgeError<VerifierClientErrorCode> {
  readonly status: number;
  readonly serverCode: string | null;
  readonly body: Record<string, unknown>;

  constructor(code: VerifierClientErrorCode, message: string, status = 0, serverCode: string | null = null, body: Record<string, unknown> = {}) {
    super(code, message);
    this.status = status;
    this.serverCode = serverCode;
    this.body = body;
  }
}

export interface Answer {
  status: number;
  json: Record<string, unknown>;
}

export interface VerifierClient {
  readonly url: string;
  /** One request; any HTTP status is returned, only a network failure throws (UNREACHABLE). */
  request(method: string, path: string, body?: unknown): Promise<Answer>;
  /** One request; a non-2xx answer throws VerifierClientError('REFUSED'), with `hint(error)` appended. */
  call(method: string, path: string, body?: unknown, hint?: (e: ServerError) => string | undefined): Promise<Record<string, unknown>>;
}

/** The `error` object of a refusal: `{ code, message, ...details }` (currentVersion, serial, field). */
export type ServerError = { code: string; message: string } & Record<string, unknown>;

export function verifierUrl(url: string | undefined): string {
  const raw = url ?? DEFAULT_VERIFIER_URL;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(raw.slice(0, 200))} is not a URL; give e.g. ${DEFAULT_VERIFIER_URL}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://, not ${u.protocol}`);
  return u.href.replace(/\/+$/, '');
}

/** The API key from `file` (first non-empty line) or else the environment; a usage error if neither has one. */
export function apiKeyFrom(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`--api-key-file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const key = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
    if (!key) throw new UsageError(`--api-key-file ${file}: the file holds no key`);
    return key;
  }
  const key = env[API_KEY_ENV]?.trim();
  if (!key) throw new UsageError(`no API key: give --api-key-file FILE or set ${API_KEY_ENV} (create one with \`tokenforge verifier keys create --role admin\`)`);
  return key;
}

function serverError(json: Record<string, unknown>, status: number): ServerError {
  const e = json['error'];
  if (typeof e === 'object' && e !== null && typeof (e as ServerError).code === 'string') {
    const se = e as ServerError;
    return { ...se, message: typeof se.message === 'string' ? se.message.slice(0, 500) : '' };
  }
  return { code: `HTTP_${status}`, message: '' };
}

/** What to do about the common refusals, when the command gave no better hint. */
function defaultHint(e: ServerError, status: number): string | undefined {
  if (status === 401) return `give a valid admin key with --api-key-file FILE or ${API_KEY_ENV}`;
  if (status === 403) return 'this key has the verify role; an admin key is needed (`tokenforge verifier keys create --role admin`)';
  if (e.code === 'INVALID_TRANSITION') return 'a revoked token stays revoked; register a replacement instead';
  return undefined;
}

export function createVerifierClient(o: { url: string; apiKey: string; timeoutMs?: number; fetch?: typeof fetch }): VerifierClient {
  // The transport is the suite's JSON client (conformance/verifier-client.ts): one fetch wrapper in the project.
  const http = createJsonClient({ url: o.url, apiKey: o.apiKey, timeoutMs: o.timeoutMs ?? 30_000, ...(o.fetch ? { fetch: o.fetch } : {}) });
  const request = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    try {
      return await http.call(method, path, body);
    } catch (e) {
      const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
      throw new VerifierClientError('UNREACHABLE', `verifier ${o.url} did not answer (${why}); is it running? check --url`);
    }
  };
  return {
    url: o.url,
    request,
    async call(method, path, body, hint) {
      const a = await request(method, path, body);
      if (a.status >= 200 && a.status < 300) return a.json;
      const e = serverError(a.json, a.status);
      const fix = hint?.(e) ?? defaultHint(e, a.status);
      const message = `${a.status} ${e.code}${e.message ? `: ${e.message}` : ''}${fix ? `; ${fix}` : ''}`;
      throw new VerifierClientError('REFUSED', message, a.status, e.code, a.json);
    },
  };
}

/** Aligned columns for humans (the first row is the header). */
export function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
