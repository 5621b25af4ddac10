/**
 * API keys (issue 11): list (never the hash), revoke, expiry; a revoked key is refused by BOTH instances sharing
 * the store within about a second (auth cache TTL 1 s); lastUsedAt is recorded.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createApiKey } from '../../verifier/admin.ts';
import { openStore } from '../../verifier/store/open.ts';
import { backendStore, call, createKey, startServer, type ServerProc } from './verifier.helpers.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('API keys on two instances', () => {
  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`list, revoke (refused by both within 1 s), expiry on ${backend}`, async () => {
      const t = await backendStore(backend, 'keys', 'k.db', cleanups);
      const keyFile = join(t.dir, 'master.key');
      const admin = createKey(t.db, 'admin');
      const victim = createKey(t.db, 'verify');
      const store = await openStore(t.db);
      const expiresAt = Date.now() + 9000;
      const soon = await createApiKey(store, 'verify', 'short-lived', Date.now(), expiresAt);
      await store.close();
      const a: ServerProc = await startServer(t.db, keyFile);
      cleanups.push(async () => void (await a.stop()));
      const b: ServerProc = await startServer(t.db, keyFile);
      cleanups.push(async () => void (await b.stop()));
      const probe = (s: ServerProc, key: string) => call(s.url, 'POST', '/v1/verify', key, { serial: 'NONE-1', code: '123456' });
      for (const s of [a, b]) {
        expect((await probe(s, victim)).status).toBe(404);
        expect((await probe(s, soon.key)).status).toBe(404);
      }
      const list = await call(a.url, 'GET', '/v1/keys', admin);
      expect(list.status).toBe(200);
      expect(list.text).not.toMatch(/"hash"/);
      const victimId = victim.split('_')[1]!;
      const row = (list.json['keys'] as Array<Record<string, unknown>>).find((k) => k['id'] === victimId);
      expect(row).toMatchObject({ role: 'verify', revokedAt: null, expiresAt: null });
      expect(typeof row!['lastUsedAt']).toBe('string');
      const rev = await call(a.url, 'POST', `/v1/keys/${victimId}/revoke`, admin, { reason: 'stolen' });
      expect(rev.json['key']).toMatchObject({ id: victimId });
      expect(typeof (rev.json['key'] as Record<string, unknown>)['revokedAt']).toBe('string');
      await new Promise((r) => setTimeout(r, 1100));
      for (const s of [a, b]) expect((await probe(s, victim)).status).toBe(401);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
      for (const s of [a, b]) expect((await probe(s, soon.key)).status).toBe(401);
      expect((await call(a.url, 'POST', '/v1/keys/nothex/revoke', admin)).status).toBe(400);
      expect((await call(a.url, 'POST', '/v1/keys/000000000000/revoke', admin)).status).toBe(404);
      expect((await call(a.url, 'GET', '/v1/keys?x=1', admin)).status).toBe(400);
      const audit = await call(b.url, 'GET', '/v1/audit?action=api-key-revoke', admin);
      expect((audit.json['entries'] as Array<{ detail: Record<string, unknown> }>)[0]!.detail).toMatchObject({ id: victimId, reason: 'stolen' });
    }, 120_000);
  }
});
