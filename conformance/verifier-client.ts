/**
 * A small JSON client of the tokenforge verifier's HTTP API (docs/openapi.json), usable against any verifier
 * URL: one request per call, the API key as a bearer token, a timeout per request. The verifier suite
 * (conformance/suites/verifier.ts) plays its scenarios through it, and `tokenforge demo` its users.
 * Provisioning registers tokens through the provisioner's registrar instead (provisioner/registrar.ts), which
 * adds idempotent retries and maps answers to provisioning faults.
 */

export interface VerifierAnswer {
  status: number;
  /** The JSON body; `{}` when the body is empty. */
  json: Record<string, unknown>;
}

export interface VerifierClient {
  /** Sends one request (`body` as JSON). Throws on a network error, a timeout or a body that is not JSON. */
  call(method: string, path: string, body?: unknown): Promise<VerifierAnswer>;
}

export interface VerifierClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8470 (a trailing slash is dropped). */
  url: string;
  apiKey?: string;
  timeoutMs: number;
  /** The fetch to use (tests inject one); the global fetch by default. */
  fetch?: typeof fetch;
}

export function createVerifierClient(o: VerifierClientOptions): VerifierClient {
  const base = o.url.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      const res = await (o.fetch ?? fetch)(base + path, {
        method,
        headers: {
          authorization: `Bearer ${o.apiKey ?? ''}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      if (text !== '') {
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new Error(`${method} ${path}: HTTP ${res.status} with a body that is not JSON`);
        }
      }
      return { status: res.status, json };
    },
  };
}
