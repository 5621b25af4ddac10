/**
 * Registration with the tokenforge verifier over HTTP (docs/openapi.json; the provisioner never imports
 * verifier/ — it talks to it like any other client would).
 *
 *   POST /v1/tokens   Authorization: Bearer <api key>   { serial, type, algorithm, digits, counter | period+t0,
 *                                                         secret (hex), secretEncoding: "hex", user?, label?, ocraSuite?,
 *                                                         batchId?, source?: { fingerprint, name? } }
 *   201 created | 200 already registered with this same seed and parameters (idempotent) | 409 the serial is
 *   registered with another seed | 400 invalid | 401/403 bad key or role.
 *
 * Idempotency is what makes a resumed batch safe: the pipeline may send the same registration again after a
 * crash (the journal fixed the counter before the first attempt, so the request is byte-for-byte the same),
 * and the verifier answers 200 instead of registering twice.
 *
 * Faults: 409 → REGISTER_CONFLICT (per token); 400 → REGISTER_FAILED (per token, with the verifier's reason);
 * 401/403 → REGISTER_FAILED with `fatal` (every other token would fail the same way, so the batch stops);
 * network errors and 5xx are retried with back-off, then REGISTER_FAILED. The seed travels only in the request
 * body; it is never in an error message (verifier messages never echo a secret either).
 */
import { bytesToHex } from '../otp/hex.ts';
import { otpAlgorithm, otpDigits } from '../otp/otp-params.ts';
import type { SeedRecord } from './seed.ts';
import { ProvisionFault } from './faults.ts';

export type RegisterOutcome = 'created' | 'existing';

export interface Registrar {
  /** Registers `seed` under `tokenSerial` with `counter` as the next HOTP counter the verifier expects. */
  register(tokenSerial: string, seed: SeedRecord, counter: bigint): Promise<RegisterOutcome>;
  /** Checks that the verifier answers and accepts the API key for admin calls (before any token is touched). */
  check(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The batch a registration belongs to: the journal's batch id and the seed file it was loaded from (SHA-256 of
 * the file's bytes, hex, and its name), so that a leaked file can be revoked as one batch.
 */
export interface RegistrationBatch {
  batchId: string;
  source?: { fingerprint: string; name?: string };
}

export interface HttpRegistrarOptions {
  url: string;
  apiKey: string;
  /** Sent with every registration when given (omitted otherwise: the body stays as it was). */
  batch?: RegistrationBatch;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** Attempts for network errors and 5xx. Default 4. */
  attempts?: number;
  /** The fetch port (default: global fetch, which keeps connections alive). */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** A fault that should stop the whole batch, not just this token. */
export class FatalRegistrarFault extends ProvisionFault {}

function baseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ProvisionFault('INVALID_ARGUMENT', `--verifier ${JSON.stringify(url)} is not a URL; give e.g. http://127.0.0.1:8080`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ProvisionFault('INVALID_ARGUMENT', `--verifier must be an http:// or https:// URL, not ${u.protocol}`);
  return u.href.replace(/\/+$/, '');
}

/** The JSON body of a registration (exported for tests; contains the seed — never log it). */
export function registrationBody(tokenSerial: string, seed: SeedRecord, counter: bigint, batch?: RegistrationBatch): Record<string, unknown> {
  const p = seed.otp;
  const body: Record<string, unknown> = {
    serial: tokenSerial,
    type: p.type,
    algorithm: otpAlgorithm(p),
    digits: otpDigits(p),
    secret: bytesToHex(seed.secret.exposeSecretBytes()),
    secretEncoding: 'hex',
  };
  if (p.type === 'totp') {
    body['period'] = p.periodSec;
    body['t0'] = p.t0Sec.toString();
    // The time step of the code shown during the check: the verifier never accepts it (or an earlier one).
    body['lastStep'] = counter.toString();
  } else {
    body['counter'] = counter.toString();
  }
  if (p.type === 'ocra') body['ocraSuite'] = p.suite;
  if (seed.user !== undefined) body['user'] = seed.user;
  if (seed.label !== undefined) body['label'] = seed.label;
  if (batch !== undefined) {
    body['batchId'] = batch.batchId;
    if (batch.source !== undefined) body['source'] = { ...batch.source };
  }
  return body;
}

async function reason(res: Response): Promise<string> {
  try {
    const text = (await res.text()).slice(0, 2000);
    const j = JSON.parse(text) as { error?: { message?: string; code?: string } | string; message?: string };
    const m = typeof j.error === 'object' ? j.error?.message : j.message ?? j.error;
    return typeof m === 'string' ? m.slice(0, 300) : `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

export function createHttpRegistrar(o: HttpRegistrarOptions): Registrar {
  const base = baseUrl(o.url);
  if (!o.apiKey) throw new ProvisionFault('INVALID_ARGUMENT', '--api-key is required with --verifier (create one with `tokenforge verifier keys create --role admin`)');
  const doFetch = o.fetch ?? fetch;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const attempts = o.attempts ?? 4;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const headers = { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json', accept: 'application/json' };

  async function send(method: string, path: string, body?: string): Promise<Response> {
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep(Math.min(2000, 100 * 2 ** (i - 1)));
      try {
        const init: RequestInit = { method, headers, signal: AbortSignal.timeout(timeoutMs) };
        if (body !== undefined) init.body = body;
        const res = await doFetch(`${base}${path}`, init);
        if (res.status >= 500) {
          last = new Error(`${await reason(res)} (HTTP ${res.status})`);
          continue;
        }
        return res;
      } catch (e) {
        last = e;
      }
    }
    const why = last instanceof Error ? (last.cause instanceof Error ? last.cause.message : last.message) : String(last);
    throw new ProvisionFault('REGISTER_FAILED', `verifier ${base} did not answer after ${attempts} attempts (${why}); is it running? the batch can be resumed`);
  }

  function authFault(res: Response, why: string): never {
    throw new FatalRegistrarFault('REGISTER_FAILED', `verifier refused the API key (HTTP ${res.status}: ${why}); give an admin key with --api-key`);
  }

  return {
    async register(tokenSerial, seed, counter) {
      const body = JSON.stringify(registrationBody(tokenSerial, seed, counter, o.batch));
      const res = await send('POST', '/v1/tokens', body);
      if (res.status === 201) {
        await res.body?.cancel();
        return 'created';
      }
      if (res.status === 200) {
        await res.body?.cancel();
        return 'existing';
      }
      const why = await reason(res);
      if (res.status === 409) throw new ProvisionFault('REGISTER_CONFLICT', `serial ${tokenSerial} is already registered on the verifier with another seed (${why})`);
      if (res.status === 401 || res.status === 403) authFault(res, why);
      throw new ProvisionFault('REGISTER_FAILED', `verifier refused serial ${tokenSerial} (HTTP ${res.status}: ${why})`);
    },
    async check() {
      // An admin-only read of a serial that cannot exist: 404 proves the URL, the key and the role.
      const res = await send('GET', '/v1/tokens/tokenforge-provisioner-probe');
      const why = res.status === 404 ? '' : await reason(res);
      if (res.status === 404 || res.status === 200) {
        await res.body?.cancel();
        return;
      }
      if (res.status === 401 || res.status === 403) authFault(res, why);
      throw new FatalRegistrarFault('REGISTER_FAILED', `verifier ${base} answered HTTP ${res.status} (${why}); is --verifier the tokenforge verifier?`);
    },
    async close() {
      /* fetch keeps no state we own */
    },
  };
}
