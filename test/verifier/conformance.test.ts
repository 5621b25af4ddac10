/**
 * `tokenforge conformance run --suite verifier` (a real CLI process) against a real server process, once on
 * SQLite and once on PostgreSQL: every scenario of scenarios.json must pass.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createKey, ROOT, runCli, startServer, type ServerProc, backendStore } from './verifier.helpers.ts';

const scenarios = JSON.parse(readFileSync(join(ROOT, 'conformance/vectors/scenarios.json'), 'utf8')) as { hotp: { scenarios: unknown[] }; totp: { scenarios: unknown[] } };
const expectedCases = scenarios.hotp.scenarios.length + scenarios.totp.scenarios.length + 1;

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('verifier conformance suite', { timeout: 120_000 }, () => {
  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`passes against the server on ${backend}`, async () => {
      const t = await backendStore(backend, 'conf', 'v.db', cleanups);
      const db = t.db;
      const key = createKey(db, 'admin');
      const srv: ServerProc = await startServer(db, join(t.dir, 'master.key'));
      cleanups.push(async () => void (await srv.stop()));
      const r = runCli(['conformance', 'run', '--suite', 'verifier', '--target', srv.url, '--api-key', key, '--format', 'json']);
      expect(r.stderr).not.toMatch(/fail /);
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout) as Record<string, unknown>;
      const text = JSON.stringify(report);
      expect(text).toContain('"status":"pass"');
      expect(text).not.toContain('"status":"fail"');
      expect((text.match(/"status":"pass"/g) ?? []).length).toBe(expectedCases);
    });
  }
});
