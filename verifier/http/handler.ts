/**
 * The HTTP API as a pure-ish function: HttpRequest -> Promise<HttpResponse>. It does not know node:http (see
 * server.ts for the socket adapter), so tests and other servers can call it directly.
 *
 * Routes (docs/openapi.json is the normative description):
 *   GET  /healthz, /metrics, /openapi.json                   no key
 *   POST /v1/verify, /v1/tokens/{serial}/resync               role verify or admin
 *   POST /v1/tokens, /v1/tokens:batch; GET|DELETE /v1/tokens/{serial};
 *   PATCH /v1/tokens/{serial}; POST /v1/tokens/{serial}/enable|disable|unlock|lost|revoke; GET /v1/audit
 *                                                             role admin
 * Every error is JSON {"error": {"code", "message", "field"?}} with the status from STATUS below; requests
 * that fail validation write nothing.
 */
import type { AdminEvent } from '../domain/states.ts';
import { VerifierError, type VerifierErrorCode } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock, VerifierService } from '../service.ts';
import type { VerifierStore } from '../store/types.ts';
import { authenticate, createKeyAuth, type KeyAuth } from './auth.ts';
import { encodeCursor, parseActionBody, parseAuditQuery, parseBatch, parseBulk, parseDeleteQuery, parseJsonBody, parsePatch, parsePathBatch, parsePathSerial, parsePathUser, parseTokenQuery, parseRegister, parseResync, parseVerify } from './parse.ts';
import { headerValue, type HttpRequest, type HttpResponse } from './types.ts';

export type { HttpRequest, HttpResponse } from './types.ts';

export type Logger = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export const STATUS: Record<VerifierErrorCode | 'INTERNAL', number> = {
  INVALID_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  SEED_IN_USE: 409,
  SEED_REVOKED: 409,
  VERSION_MISMATCH: 409,
  INVALID_TRANSITION: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BUSY: 503,
  MASTER_KEY: 500,
  STORE: 500,
  AUDIT_BROKEN: 500,
  INTERNAL: 500,
};

/** Body limits: the batch route needs room for 10,000 tokens. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
export const BATCH_BODY_LIMIT = 16 * 1024 * 1024;

export function bodyLimitFor(path: string, base = DEFAULT_BODY_LIMIT): number {
  return path === '/v1/tokens:batch' || path === '/v1/tokens:bulk' ? Math.max(base, BATCH_BODY_LIMIT) : base;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

export function json(status: number, value: unknown): HttpResponse {
  return { status, headers: { ...JSON_HEADERS }, body: JSON.stringify(value) };
}

export function errorResponse(code: VerifierErrorCode | 'INTERNAL', message: string, field?: string, details?: Readonly<Record<string, unknown>>): HttpResponse {
  const r = json(STATUS[code], { error: { ...details, code, message, ...(field !== undefined ? { field } : {}) } });
  if (code === 'UNAUTHENTICATED') r.headers['www-authenticate'] = 'Bearer realm="tokenforge-verifier"';
  return r;
}

/**
 * Every route template this handler serves (docs/openapi.json must describe each one; a test checks it).
 * Keep in step with `route` below.
 */
export const ROUTE_TEMPLATES = [
  '/healthz', '/metrics', '/openapi.json', '/v1/verify', '/v1/tokens', '/v1/tokens:batch', '/v1/audit', '/v1/tokens/{serial}',
  '/v1/tokens/{serial}/resync', '/v1/tokens/{serial}/enable', '/v1/tokens/{serial}/disable', '/v1/tokens/{serial}/unlock',
  '/v1/tokens/{serial}/lost', '/v1/tokens/{serial}/revoke', '/v1/users/{user}/unlock', '/v1/tokens:bulk', '/v1/batches/{batchId}',
  '/v1/keys', '/v1/keys/{id}/revoke',
] as const;

/** The route template of a path, for metrics labels (bounded cardinality). */
export function routeOf(path: string): string {
  if (['/healthz', '/metrics', '/openapi.json', '/v1/verify', '/v1/tokens', '/v1/tokens:batch', '/v1/tokens:bulk', '/v1/audit'].includes(path)) return path;
  if (/^\/v1\/batches\/[^/]+$/.test(path)) return '/v1/batches/{batchId}';
  if (/^\/v1\/keys\/[^/]+\/revoke$/.test(path)) return '/v1/keys/{id}/revoke';
  const m = /^\/v1\/tokens\/[^/]+(?:\/(resync|enable|disable|unlock|lost|revoke))?$/.exec(path);
  if (m) return `/v1/tokens/{serial}${m[1] ? `/${m[1]}` : ''}`;
  if (/^\/v1\/users\/[^/]+\/unlock$/.test(path)) return '/v1/users/{user}/unlock';
  return 'other';
}

export interface HandlerOptions {
  service: VerifierService;
  store: VerifierStore;
  metrics: Metrics;
  clock: Clock;
  openapi: string;
  log: Logger;
  /** Milliseconds an API key lookup is cached (revocations take effect after this; http/auth.ts). */
  keyCacheMs?: number;
}

/** What every route reads: the service and the parts of the server it reports on, and the key cache. */
interface HandlerState {
  readonly service: VerifierService;
  readonly store: VerifierStore;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly openapi: string;
  readonly log: Logger;
  readonly keys: KeyAuth;
}

/** A route's answer and its template (the metrics label). */
interface Routed {
  route: string;
  res: HttpResponse;
}

export function createHandler(o: HandlerOptions): (req: HttpRequest) => Promise<HttpResponse> {
  const s: HandlerState = {
    service: o.service,
    store: o.store,
    metrics: o.metrics,
    clock: o.clock,
    openapi: o.openapi,
    log: o.log,
    keys: createKeyAuth(o.store, o.clock, o.keyCacheMs),
  };
  return (req) => handle(s, req);
}

/** One request: route it, turn errors into their JSON answer (logging server faults), count it. */
async function handle(s: HandlerState, req: HttpRequest): Promise<HttpResponse> {
  const start = process.hrtime.bigint();
  let routeName = routeOf(req.path);
  let res: HttpResponse;
  try {
    const out = await route(s, req);
    routeName = out.route;
    res = out.res;
  } catch (e) {
    if (e instanceof VerifierError) {
      res = errorResponse(e.code, e.message, e.field, e.details);
      if (STATUS[e.code] >= 500) s.log('error', e.message, { code: e.code, method: req.method, path: req.path.slice(0, 200) });
    } else {
      s.log('error', 'unexpected error', { error: e instanceof Error ? e.message : String(e), method: req.method, path: req.path.slice(0, 200) });
      res = errorResponse('INTERNAL', 'internal error; see the server log');
    }
  }
  s.metrics.inc('tokenforge_http_requests_total', { route: routeName, status: String(res.status) }, 'HTTP requests by route and status.');
  s.metrics.observeRequest(routeName, Number(process.hrtime.bigint() - start) / 1e9);
  return res;
}

function route(s: HandlerState, req: HttpRequest): Promise<Routed> | Routed {
  const { method, path } = req;
  switch (path) {
    case '/healthz':
      return healthz(s, req);
    case '/metrics':
      allow(req, 'GET');
      return { route: path, res: { status: 200, headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, body: s.metrics.render() } };
    case '/openapi.json':
      allow(req, 'GET');
      return { route: path, res: { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: s.openapi } };
    case '/v1/verify':
      return verify(s, req);
    case '/v1/tokens':
      return req.method === 'GET' ? listTokens(s, req) : registerOne(s, req);
    case '/v1/tokens:bulk':
      return bulk(s, req);
    case '/v1/keys':
      return listKeys(s, req);
    case '/v1/tokens:batch':
      return registerBatch(s, req);
    case '/v1/audit':
      return audit(s, req);
  }
  const m = /^\/v1\/tokens\/([^/]+)(?:\/(resync|enable|disable|unlock|lost|revoke))?$/.exec(path);
  if (m) return token(s, req, parsePathSerial(m[1]!), m[2] as 'resync' | AdminEvent | undefined);
  const km = /^\/v1\/keys\/([^/]+)\/revoke$/.exec(path);
  if (km) return revokeKey(s, req, km[1]!);
  const bm = /^\/v1\/batches\/([^/]+)$/.exec(path);
  if (bm) return batch(s, req, parsePathBatch(bm[1]!));
  const u = /^\/v1\/users\/([^/]+)\/unlock$/.exec(path);
  if (u) return unlockUser(s, req, parsePathUser(u[1]!));
  throw new VerifierError('NOT_FOUND', `no route ${method} ${path.slice(0, 200)}; see /openapi.json`);
}

function allow(req: HttpRequest, method: string): void {
  if (req.method !== method) throw new VerifierError('METHOD_NOT_ALLOWED', `method not allowed here; use ${method}`);
}

function requireJson(req: HttpRequest): void {
  const ct = headerValue(req.headers, 'content-type');
  if (ct === undefined || !/^application\/json\s*(;|$)/i.test(ct)) {
    throw new VerifierError('UNSUPPORTED_MEDIA_TYPE', 'send the body as JSON with "Content-Type: application/json"');
  }
}

async function healthz(s: HandlerState, req: HttpRequest): Promise<Routed> {
  allow(req, 'GET');
  try {
    await s.store.ping();
  } catch {
    return { route: req.path, res: json(503, { status: 'unavailable', store: s.store.kind }) };
  }
  const now = s.clock.nowMs();
  return { route: req.path, res: json(200, { status: 'ok', store: s.store.kind, time: new Date(now).toISOString(), timeMs: now }) };
}

async function verify(s: HandlerState, req: HttpRequest): Promise<Routed> {
  allow(req, 'POST');
  const actor = await authenticate(s.keys, req, 'verify');
  requireJson(req);
  const v = parseVerify(parseJsonBody(req.body));
  const out = await s.service.verify(v, actor);
  return { route: req.path, res: json(200, { result: out.result, serial: out.serial, ...out.detail }) };
}

async function registerOne(s: HandlerState, req: HttpRequest): Promise<Routed> {
  allow(req, 'POST');
  const actor = await authenticate(s.keys, req, 'admin');
  requireJson(req);
  const r = parseRegister(parseJsonBody(req.body));
  const { outcomes, tokens } = await s.service.register([r], actor);
  const created = outcomes[0]!.status === 'created';
  // Read back: a re-registered seed may start above the requested counter (domain/lifecycle.ts).
  const meta = await s.service.getToken(tokens[0]!.serial);
  return { route: req.path, res: json(created ? 201 : 200, { status: outcomes[0]!.status, token: meta }) };
}

async function registerBatch(s: HandlerState, req: HttpRequest): Promise<Routed> {
  allow(req, 'POST');
  const actor = await authenticate(s.keys, req, 'admin');
  requireJson(req);
  const list = parseBatch(parseJsonBody(req.body));
  const { outcomes } = await s.service.register(list, actor);
  const created = outcomes.filter((x) => x.status === 'created').length;
  return { route: req.path, res: json(200, { created, existing: outcomes.length - created, results: outcomes }) };
}

async function audit(s: HandlerState, req: HttpRequest): Promise<Routed> {
  allow(req, 'GET');
  await authenticate(s.keys, req, 'admin');
  const q = parseAuditQuery(req.query);
  const entries = await s.service.auditLog(q);
  const last = entries[entries.length - 1];
  return {
    route: req.path,
    res: json(200, {
      entries: entries.map((e) => ({ ...e, at: new Date(e.atMs).toISOString(), detail: JSON.parse(e.detail) as unknown })),
      next: entries.length === q.limit && last ? String(last.seq) : null,
    }),
  };
}

/** GET /v1/tokens: a page of the registry (metadata only, never a seed), ordered by serial. */
async function listTokens(s: HandlerState, req: HttpRequest): Promise<Routed> {
  await authenticate(s.keys, req, 'admin');
  const f = parseTokenQuery(req.query);
  const page = await s.service.listTokens(f);
  return { route: req.path, res: json(200, { tokens: page.tokens, nextCursor: page.nextAfter === null ? null : encodeCursor(page.nextAfter) }) };
}

async function bulk(s: HandlerState, req: HttpRequest): Promise<Routed> {
  allow(req, 'POST');
  const actor = await authenticate(s.keys, req, 'admin');
  requireJson(req);
  const b = parseBulk(parseJsonBody(req.body));
  const out = await s.service.bulk(b, actor);
  return { route: req.path, res: json(200, { action: out.action, matched: out.matched, changed: out.changed, dryRun: out.dryRun, filter: b.filter, all: b.all }) };
}

async function batch(s: HandlerState, req: HttpRequest, batchId: string): Promise<Routed> {
  allow(req, 'GET');
  await authenticate(s.keys, req, 'admin');
  const b = await s.service.batch(batchId);
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    route: '/v1/batches/{batchId}',
    res: json(200, { batchId: b.batchId, source: b.source, tokens: b.tokens, byState: b.byState, firstRegisteredAt: iso(b.firstRegisteredAtMs), lastRegisteredAt: iso(b.lastRegisteredAtMs) }),
  };
}

async function listKeys(s: HandlerState, req: HttpRequest): Promise<Routed> {
  allow(req, 'GET');
  await authenticate(s.keys, req, 'admin');
  if ([...req.query.keys()].length > 0) throw new VerifierError('INVALID_REQUEST', `${[...req.query.keys()][0]!.slice(0, 64)}: unknown query parameter; this route takes none`, { field: [...req.query.keys()][0]!.slice(0, 64) });
  return { route: req.path, res: json(200, { keys: await s.service.listKeys() }) };
}

async function revokeKey(s: HandlerState, req: HttpRequest, rawId: string): Promise<Routed> {
  allow(req, 'POST');
  const actor = await authenticate(s.keys, req, 'admin');
  if (!/^[0-9a-f]{12}$/.test(rawId)) throw new VerifierError('INVALID_REQUEST', 'key id in the path is not 12 hex digits', { field: 'id' });
  if (req.body.trim() !== '') requireJson(req);
  const { reason } = parseActionBody(req.body);
  return { route: '/v1/keys/{id}/revoke', res: json(200, { key: await s.service.revokeKey(rawId, actor, reason) }) };
}

/** POST /v1/users/{user}/unlock: lifts the user's verify-by-user lock (domain/users.ts). */
async function unlockUser(s: HandlerState, req: HttpRequest, user: string): Promise<Routed> {
  allow(req, 'POST');
  const actor = await authenticate(s.keys, req, 'admin');
  if (req.body.trim() !== '') requireJson(req);
  const { reason } = parseActionBody(req.body);
  return { route: '/v1/users/{user}/unlock', res: json(200, { user: await s.service.unlockUser(user, actor, reason) }) };
}

/** /v1/tokens/{serial} and its actions. */
async function token(s: HandlerState, req: HttpRequest, serial: string, action: 'resync' | AdminEvent | undefined): Promise<Routed> {
  const r = `/v1/tokens/{serial}${action ? `/${action}` : ''}`;
  if (action === 'resync') {
    allow(req, 'POST');
    const actor = await authenticate(s.keys, req, 'verify');
    requireJson(req);
    const b = parseResync(parseJsonBody(req.body));
    const out = await s.service.resync(serial, b.code1, b.code2, actor);
    return { route: r, res: json(200, { result: out.result, serial, ...out.detail }) };
  }
  if (action !== undefined) {
    allow(req, 'POST');
    const actor = await authenticate(s.keys, req, 'admin');
    if (req.body.trim() !== '') requireJson(req);
    const { reason } = parseActionBody(req.body);
    return { route: r, res: json(200, { token: await s.service.setState(serial, action, actor, reason) }) };
  }
  if (req.method === 'GET') {
    await authenticate(s.keys, req, 'admin');
    return { route: r, res: json(200, { token: await s.service.getToken(serial) }) };
  }
  if (req.method === 'DELETE') {
    const actor = await authenticate(s.keys, req, 'admin');
    const { reason } = parseDeleteQuery(req.query);
    await s.service.remove(serial, actor, reason);
    return { route: r, res: { status: 204, headers: {}, body: '' } };
  }
  if (req.method === 'PATCH') {
    const actor = await authenticate(s.keys, req, 'admin');
    requireJson(req);
    const patch = parsePatch(parseJsonBody(req.body));
    return { route: r, res: json(200, { token: await s.service.update(serial, patch, actor) }) };
  }
  throw new VerifierError('METHOD_NOT_ALLOWED', 'method not allowed here; use GET, PATCH, DELETE');
}
