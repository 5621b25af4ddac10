/**
 * The framework-independent request and response of the HTTP adapter: handler.ts maps one to the other,
 * server.ts carries them over node:http. Header names are lower-case (as node:http delivers them).
 */

export interface HttpRequest {
  method: string;
  /** Path without the query string, still percent-encoded. */
  path: string;
  query: URLSearchParams;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The first value of a header, or undefined. */
export function headerValue(h: HttpRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}
