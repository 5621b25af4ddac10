/**
 * The `verifier` conformance suite: the decisions of conformance/vectors/scenarios.json (DERIVED from RFC 4226
 * Sections 7.2-7.4 and App. E.4, RFC 6238 Sections 5.2 and 6, NIST SP 800-63B), played against a verifier URL
 * over its HTTP API (docs/openapi.json) with an admin API key.
 *
 * Every scenario registers fresh tokens under unique serials (so it can run against a server in use) with the
 * scenario's window as per-token overrides, and deletes them afterwards. TOTP scenarios give a "server_time":
 * the suite reads the server's clock from /healthz and registers the token with t0 = serverNow - server_time
 * (placed mid-step), so that the server's own clock yields exactly the scenario's time step T — the codes, which
 * depend only on T, are the RFC 6238 ones. Expected values are read from the file, never computed here.
 */
import { randomBytes } from 'node:crypto';
import scenariosJson from '../vectors/scenarios.json' with { type: 'json' };
import type { CaseResult, Suite } from '../types.ts';
import { createVerifierClient, type VerifierClient } from '../verifier-client.ts';

const SUITE = 'verifier';
const SOURCE = 'conformance/vectors/scenarios.json (DERIVED from RFC 4226 7.2-7.4/E.4, RFC 6238 5.2/6, NIST 800-63B)';

interface Submit {
  otp: string;
  expect: 'accept' | 'reject';
  new_server_counter?: number;
  failed_attempts_after?: number;
}
interface HotpScenario {
  name: string;
  server_counter: number;
  look_ahead_s?: number;
  s?: number;
  resync_window?: number;
  submit?: Submit[];
  submit_pair?: [string, string];
  expect?: string;
  new_server_counter?: number;
  submit_with_counter?: { counter: number; otp: string };
  also_reject?: Array<{ counter: number; otp: string; why: string }>;
}
interface TotpScenario {
  name: string;
  server_time: number;
  otp?: string;
  delay_window_steps_back?: number;
  expect?: 'accept' | 'reject';
  matched_T_hex?: string;
  recorded_drift_steps?: number;
  sequence?: Array<{ otp: string; expect: 'accept' | 'reject' }>;
}
interface ScenarioFile {
  source: string;
  hotp: { key_hex: string; digits: number; algorithm: string; scenarios: HotpScenario[] };
  totp: { X: number; T0: number; digits: number; algorithm: string; key_hex: string; scenarios: TotpScenario[] };
}

/** The scenarios (a JSON module, so that the bundled CLI carries them), as a fresh copy for each run. */
export function loadScenarios(): ScenarioFile {
  return structuredClone(scenariosJson) as unknown as ScenarioFile;
}

class Failure extends Error {}

function expectEq(what: string, actual: unknown, expected: unknown): void {
  if (String(actual) !== String(expected)) throw new Failure(`${what}: got ${String(actual)}, expected ${String(expected)}`);
}

async function ok(a: VerifierClient, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await a.call(method, path, body);
  if (r.status < 200 || r.status >= 300) {
    const err = (r.json['error'] as { code?: string; message?: string } | undefined) ?? {};
    throw new Failure(`${method} ${path}: HTTP ${r.status} ${err.code ?? ''} ${err.message ?? ''}`.trim());
  }
  return r.json;
}

export function createVerifierSuite(): Suite {
  return {
    name: SUITE,
    description: 'HOTP/TOTP verification decisions (look-ahead, replay, resync, drift, lockout counting) against a verifier URL',
    target: 'http',
    async run(ctx) {
      if (!ctx.target || !/^https?:\/\//.test(ctx.target)) {
        return [{ suite: SUITE, group: 'setup', name: 'target', status: 'fail', durationMs: 0, message: 'give --target http://HOST:PORT of a tokenforge verifier' }];
      }
      const file = loadScenarios();
      const a = createVerifierClient({ url: ctx.target, ...(ctx.apiKey !== undefined ? { apiKey: ctx.apiKey } : {}), timeoutMs: ctx.timeoutMs });
      const run = randomBytes(4).toString('hex');
      let n = 0;
      const serials: string[] = [];
      const newSerial = (): string => {
        const s = `conf-${run}-${++n}`;
        serials.push(s);
        return s;
      };
      const results: CaseResult[] = [];
      const runCase = async (group: string, name: string, fn: () => Promise<void>): Promise<void> => {
        const t = performance.now();
        const r: CaseResult = { suite: SUITE, group, name, status: 'pass', durationMs: 0, source: SOURCE };
        try {
          await fn();
        } catch (e) {
          r.status = 'fail';
          r.message = e instanceof Error ? e.message : String(e);
        }
        r.durationMs = performance.now() - t;
        results.push(r);
        ctx.log(`${r.status} ${group}: ${name}${r.message ? ` (${r.message})` : ''}`);
      };

      const h = file.hotp;
      const registerHotp = async (counter: number, lookAhead: number, resyncWindow?: number): Promise<string> => {
        const serial = newSerial();
        await ok(a, 'POST', '/v1/tokens', {
          serial,
          type: 'hotp',
          algorithm: h.algorithm,
          digits: h.digits,
          counter,
          secret: h.key_hex,
          secretEncoding: 'hex',
          lookAhead,
          ...(resyncWindow !== undefined ? { resyncWindow } : {}),
        });
        return serial;
      };
      const verify = async (serial: string, code: string, counter?: number): Promise<Record<string, unknown>> =>
        ok(a, 'POST', '/v1/verify', { serial, code, ...(counter !== undefined ? { counter } : {}) });
      const meta = async (serial: string): Promise<Record<string, unknown>> => (await ok(a, 'GET', `/v1/tokens/${serial}`))['token'] as Record<string, unknown>;

      for (const sc of h.scenarios) {
        await runCase('hotp', sc.name, async () => {
          const s = sc.look_ahead_s ?? sc.s ?? 0;
          if (sc.submit) {
            const serial = await registerHotp(sc.server_counter, s);
            for (const [i, sub] of sc.submit.entries()) {
              const r = await verify(serial, sub.otp);
              expectEq(`submission ${i + 1} (${sub.otp}) result`, r['result'] === 'ok' ? 'accept' : `reject`, sub.expect);
              const m = await meta(serial);
              if (sub.new_server_counter !== undefined) expectEq(`counter after submission ${i + 1}`, m['counter'], sub.new_server_counter);
              if (sub.failed_attempts_after !== undefined) expectEq(`failed attempts after submission ${i + 1}`, m['failCount'], sub.failed_attempts_after);
            }
          }
          if (sc.submit_pair) {
            const serial = await registerHotp(sc.server_counter, s, sc.resync_window);
            const r = await ok(a, 'POST', `/v1/tokens/${serial}/resync`, { code1: sc.submit_pair[0], code2: sc.submit_pair[1] });
            expectEq('resync result', r['result'], sc.expect);
            expectEq('counter after resync', (await meta(serial))['counter'], sc.new_server_counter);
          }
          if (sc.submit_with_counter) {
            // RCP: the client sends its counter with the code; the server checks E.4 rules 1-3 for that counter.
            const serial = await registerHotp(sc.server_counter, s);
            const r = await verify(serial, sc.submit_with_counter.otp, sc.submit_with_counter.counter);
            expectEq(`code for client counter ${sc.submit_with_counter.counter}`, r['result'] === 'ok' ? 'accept' : 'reject', sc.expect);
            expectEq('counter after accept', (await meta(serial))['counter'], sc.new_server_counter);
            for (const rej of sc.also_reject ?? []) {
              const fresh = await registerHotp(sc.server_counter, s);
              const rr = await verify(fresh, rej.otp, rej.counter);
              expectEq(`code for client counter ${rej.counter} (${rej.why})`, rr['result'] === 'ok' ? 'accept' : 'reject', 'reject');
              expectEq(`counter after rejected code (${rej.why})`, (await meta(fresh))['counter'], sc.server_counter);
            }
          }
        });
      }

      const t = file.totp;
      for (const sc of t.scenarios) {
        await runCase('totp', sc.name, async () => {
          const health = await a.call('GET', '/healthz');
          const serverNowSec = Math.floor(Number(health.json['timeMs']) / 1000);
          if (!Number.isFinite(serverNowSec)) throw new Failure('/healthz does not report timeMs; cannot align the time step');
          const step = Math.floor((sc.server_time - t.T0) / t.X);
          // Place the server mid-step so that the following requests stay within T (X/2 seconds of slack).
          const t0 = serverNowSec - (t.T0 + step * t.X + Math.floor(t.X / 2));
          const serial = newSerial();
          await ok(a, 'POST', '/v1/tokens', {
            serial,
            type: 'totp',
            algorithm: t.algorithm,
            digits: t.digits,
            period: t.X,
            t0: String(t0),
            secret: t.key_hex,
            secretEncoding: 'hex',
            windowBack: sc.delay_window_steps_back ?? 1,
            windowForward: 1,
          });
          const seq = sc.sequence ?? [{ otp: sc.otp!, expect: sc.expect! }];
          for (const [i, sub] of seq.entries()) {
            const r = await verify(serial, sub.otp);
            expectEq(`submission ${i + 1} (${sub.otp})`, r['result'] === 'ok' ? 'accept' : 'reject', sub.expect);
            if (i === 0 && sc.matched_T_hex !== undefined) expectEq('matched time step', r['matchedStep'], BigInt(`0x${sc.matched_T_hex}`));
          }
          if (sc.recorded_drift_steps !== undefined) expectEq('recorded drift (steps)', (await meta(serial))['driftSteps'], sc.recorded_drift_steps);
        });
      }

      await runCase('secrets', 'metadata and audit never contain the seed', async () => {
        const serial = await registerHotp(0, 3);
        const body = JSON.stringify(await meta(serial)) + JSON.stringify(await ok(a, 'GET', `/v1/audit?serial=${serial}`));
        const hex = h.key_hex.toLowerCase();
        // The RFC key is ASCII "1234567890..."; look for it as hex and as text.
        const ascii = Buffer.from(hex, 'hex').toString('latin1');
        if (body.toLowerCase().includes(hex) || body.includes(ascii)) throw new Failure('a response contains the registered seed');
      });

      for (const s of serials) await a.call('DELETE', `/v1/tokens/${s}`).catch(() => undefined);
      return results;
    },
  };
}

export const verifierSuite: Suite = createVerifierSuite();
