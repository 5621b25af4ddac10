/**
 * Bulk revoke under load (issue 11): two server processes share one store (a SQLite file; a PostgreSQL schema)
 * and verify valid codes of a batch's tokens continuously, spread over both, while a bulk revoke of the batch
 * runs on one of them. No verification that STARTED after the bulk call returned may answer `ok` (the row cache
 * of the SQLite store and the group commits of both must not serve the pre-revoke state), and every token of
 * the batch ends revoked; the other batch keeps working.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createHotpEngine, type HotpEngine } from '../../otp/engine.ts';
import { backendStore, createKey, startServer, type ServerProc, postJson } from './verifier.helpers.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});


const N = 100;
const WORKERS = 16;

describe('bulk revoke while two instances verify codes of the batch', () => {
  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`no ok after the call returns on ${backend}`, async () => {
      const t = await backendStore(backend, 'bulkrace', 'shared.db', cleanups);
      const keyFile = join(t.dir, 'master.key');
      const admin = createKey(t.db, 'admin');
      const a: ServerProc = await startServer(t.db, keyFile, ['--backoff-ms', '0']);
      cleanups.push(async () => void (await a.stop()));
      const b: ServerProc = await startServer(t.db, keyFile, ['--backoff-ms', '0']);
      cleanups.push(async () => void (await b.stop()));
      const agent = new Agent({ keepAlive: true, maxSockets: 64 });
      cleanups.push(() => agent.destroy());

      const tokens: Array<{ serial: string; engine: HotpEngine; counter: bigint }> = [];
      const body = [];
      for (let i = 0; i < N + 1; i++) {
        const seed = randomBytes(20);
        const serial = i < N ? `LEAK-${i}` : 'SAFE-0';
        tokens.push({ serial, engine: createHotpEngine(seed, { algorithm: 'SHA1', digits: 6 }), counter: 0n });
        body.push({ serial, type: 'hotp', secret: seed.toString('hex'), secretEncoding: 'hex', batchId: i < N ? 'LEAK' : 'SAFE', lookAhead: 50 });
      }
      const reg = await postJson(agent, `${a.url}/v1/tokens:batch`, admin, { tokens: body });
      expect(reg.status).toBe(200);
      const leak = tokens.slice(0, N);

      let revokeReturnedAt = Infinity;
      let stop = false;
      const late: string[] = [];
      let oks = 0;
      let n = 0;
      const worker = async (w: number): Promise<void> => {
        for (let k = 0; !stop; k++) {
          const tk = leak[(w + k * WORKERS) % N]!;
          const url = (w + k) % 2 === 0 ? a.url : b.url;
          const started = performance.now();
          const r = await postJson(agent, `${url}/v1/verify`, admin, { serial: tk.serial, code: tk.engine.code(tk.counter) });
          n++;
          if (r.json['result'] === 'ok') {
            oks++;
            tk.counter++;
            if (started > revokeReturnedAt) late.push(`${tk.serial}@${tk.counter - 1n}`);
          }
        }
      };
      const load = Array.from({ length: WORKERS }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 800));
      const rev = await postJson(agent, `${b.url}/v1/tokens:bulk`, admin, { action: 'revoke', filter: { batch: 'LEAK' }, reason: 'seed file leaked' });
      revokeReturnedAt = performance.now();
      expect(rev.status).toBe(200);
      expect(rev.json).toMatchObject({ action: 'revoke', matched: N, changed: N, dryRun: false });
      await new Promise((r) => setTimeout(r, 800));
      stop = true;
      await Promise.all(load);
      console.log(`${backend}: ${n} verifications, ${oks} ok before the revoke`);
      expect(oks).toBeGreaterThan(0);
      expect(late).toEqual([]);
      for (const s of [a, b]) {
        const tk = leak[0]!;
        expect((await postJson(agent, `${s.url}/v1/verify`, admin, { serial: tk.serial, code: tk.engine.code(tk.counter) })).json['result']).toBe('disabled');
      }
      const safe = tokens[N]!;
      expect((await postJson(agent, `${a.url}/v1/verify`, admin, { serial: safe.serial, code: safe.engine.code(0n) })).json['result']).toBe('ok');
      const batch = await fetch(`${a.url}/v1/batches/LEAK`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.json() as Promise<Record<string, unknown>>);
      expect(batch).toMatchObject({ batchId: 'LEAK', tokens: N, byState: { revoked: N } });
      const audit = await fetch(`${a.url}/v1/audit?action=bulk-revoke`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.json() as Promise<{ entries: Array<{ detail: Record<string, unknown> }> }>);
      expect(audit.entries).toHaveLength(1);
      expect(audit.entries[0]!.detail).toMatchObject({ matched: N, changed: N, filter: { batch: 'LEAK' }, reason: 'seed file leaked' });
    }, 120_000);
  }
});
