/**
 * `npm run bench lifecycle` (issue 11): the time to revoke a batch of 10,000 tokens in ONE bulk call
 * (service.bulk -> store.bulkUpdate: one transaction, one audit entry), on SQLite and on PostgreSQL. Each
 * repeat registers a fresh batch, then times the call; the table prints the median and the per-token cost.
 * Not a timed test. BENCH_BULK_TOKENS (default 10000), BENCH_REPEAT (default 3), BENCH_STORES (sqlite,postgres).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DEFAULT_POLICY } from '../verifier/domain/types.ts';
import type { RegisterRequest } from '../verifier/domain/requests.ts';
import { createKeyring } from '../verifier/keyring.ts';
import { createMetrics } from '../verifier/metrics.ts';
import { createVerifierService } from '../verifier/service.ts';
import { openPostgresStore } from '../verifier/store/postgres.ts';
import { openSqliteStore } from '../verifier/store/sqlite.ts';
import type { VerifierStore } from '../verifier/store/types.ts';

const PG_URL = process.env['TOKENFORGE_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env['BENCH_BULK_TOKENS'] ?? 10_000);
const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 3);
const STORES = (process.env['BENCH_STORES'] ?? 'sqlite,postgres').split(',');
const ring = createKeyring([{ kid: 'bench', key: new Uint8Array(32).fill(5) }]);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(store: VerifierStore): Promise<number[]> {
  const svc = createVerifierService({ store, keyring: () => ring, policy: DEFAULT_POLICY, clock: { nowMs: () => Date.now() }, metrics: createMetrics(), randomId: randomUUID });
  const times: number[] = [];
  try {
    for (let r = 0; r < REPEAT; r++) {
      const batchId = `BENCH-${r}`;
      const reqs: RegisterRequest[] = Array.from({ length: N }, (_, i) => ({
        serial: `B${r}-${i}`, otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n }, lastStep: null,
        secret: Uint8Array.from(createHash('sha256').update(`lifecycle-bench-${r}-${i}`).digest().subarray(0, 20)), user: null, label: null,
        lookAhead: null, windowBack: null, windowForward: null, resyncWindow: null, batchId, source: null, rekey: false,
      }));
      await svc.register(reqs, 'bench');
      const t0 = performance.now();
      const out = await svc.bulk({ action: 'revoke', filter: { batch: batchId }, all: false, dryRun: false, reason: 'bench' }, 'bench');
      times.push(performance.now() - t0);
      if (out.changed !== N) throw new Error(`revoked ${out.changed} of ${N}`);
    }
  } finally {
    svc.close();
  }
  return times;
}

export async function run(): Promise<void> {
  const rows: string[] = [];
  for (const name of STORES) {
    let store: VerifierStore;
    let cleanup: () => Promise<void>;
    if (name === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'tf-bench-life-'));
      store = openSqliteStore(join(dir, 'v.db'));
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const schema = `tfv_bench_life_${process.pid}`;
      store = await openPostgresStore(`${PG_URL}?schema=${schema}`);
      cleanup = async () => {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      };
    }
    try {
      const t = await measure(store);
      const m = median(t);
      rows.push(`| ${name.padEnd(8)} | ${String(N).padStart(6)} | ${m.toFixed(0).padStart(8)} ms | ${((m * 1000) / N).toFixed(1).padStart(6)} µs | ${t.map((x) => x.toFixed(0)).join(', ')} |`);
    } finally {
      await store.close();
      await cleanup();
    }
  }
  console.log('| store    | tokens | revoke (median) | per token | runs (ms) |');
  console.log('|----------|--------|-----------------|-----------|-----------|');
  for (const r of rows) console.log(r);
}
