/**
 * `tokenforge verifier ...` as real processes: first-run master key (mode 0600, warning), keys create (printed
 * once, only a hash stored), audit verify (detects tampering), rotate-key (re-seals; a running server keeps
 * verifying), refusal to start with tokens but no key file, --help and usage errors.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createHotpEngine } from '../../otp/engine.ts';
import { parseApiKey } from '../../verifier/apikeys.ts';
import { hexToBytes } from '../../otp/hex.ts';
import { call, createKey, RFC_KEY_HEX, runCli, startServer, tempDir } from './verifier.helpers.ts';

const t = tempDir();
afterAll(() => t.cleanup());
const engine = createHotpEngine(hexToBytes(RFC_KEY_HEX), { digits: 6 });

describe('verifier CLI', { timeout: 120_000 }, () => {
  it('serve generates the master key with mode 0600 and warns; keys create prints once and stores a hash', async () => {
    const admin = runCli(['verifier', 'keys', 'create', '--role', 'admin', '--label', 'ops'], t.dir);
    expect(admin.status).toBe(0);
    const key = admin.stdout.trim();
    expect(key).toMatch(/^tfv_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(admin.stderr).toMatch(/cannot be shown again/);
    const raw = readFileSync(join(t.dir, 'tokenforge-verifier.db'));
    // The whole secret part (base64url may itself contain '_', so split on the format, not on every '_').
    const secret = parseApiKey(key)!.secret;
    expect(secret.length).toBeGreaterThan(20);
    expect(raw.includes(Buffer.from(secret))).toBe(false);

    const srv = await startServer('tokenforge-verifier.db', 'tokenforge-verifier.key', [], t.dir);
    try {
      expect(srv.stderr()).toMatch(/generated a new master key in tokenforge-verifier\.key \(mode 0600\)/);
      expect(statSync(join(t.dir, 'tokenforge-verifier.key')).mode & 0o777).toBe(0o600);
      const r = await call(srv.url, 'POST', '/v1/tokens', key, { serial: 'CLI-1', type: 'hotp', secret: RFC_KEY_HEX, secretEncoding: 'hex' });
      expect(r.status).toBe(201);
      expect((await call(srv.url, 'POST', '/v1/verify', key, { serial: 'CLI-1', code: engine.code(0n) })).json['result']).toBe('ok');

      // rotate-key while the server runs: seeds re-sealed under the new key id; the server keeps verifying.
      const rot = runCli(['verifier', 'rotate-key'], t.dir);
      expect(rot.status, rot.stderr).toBe(0);
      const kid = /new master key (\S+)/.exec(rot.stdout)![1]!;
      expect(readFileSync(join(t.dir, 'tokenforge-verifier.key'), 'utf8')).toContain(kid);
      expect(statSync(join(t.dir, 'tokenforge-verifier.key')).mode & 0o777).toBe(0o600);
      const db = new Database(join(t.dir, 'tokenforge-verifier.db'), { readonly: true });
      expect(db.prepare('SELECT seed_kid FROM tokens').all()).toEqual([{ seed_kid: kid }]);
      db.close();
      await new Promise((r) => setTimeout(r, 1100));
      expect((await call(srv.url, 'POST', '/v1/tokens', key, { serial: 'CLI-2', type: 'hotp', secret: RFC_KEY_HEX, secretEncoding: 'hex' })).json['token']).toMatchObject({ keyId: kid });
      expect((await call(srv.url, 'POST', '/v1/verify', key, { serial: 'CLI-1', code: engine.code(1n) })).json['result']).toBe('ok');
    } finally {
      expect(await srv.stop()).toBe(0);
    }
    expect(srv.stderr()).toMatch(/SIGTERM: shutting down/);

    // After a restart (no cached engines) the re-sealed seed still opens.
    const again = await startServer('tokenforge-verifier.db', 'tokenforge-verifier.key', [], t.dir);
    try {
      expect((await call(again.url, 'POST', '/v1/verify', key, { serial: 'CLI-1', code: engine.code(2n) })).json['result']).toBe('ok');
    } finally {
      await again.stop();
    }
  });

  it('audit verify passes, then names the altered entry and exits 1', () => {
    const ok = runCli(['verifier', 'audit', 'verify'], t.dir);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^audit log OK: \d+ entries, head \d+ [0-9a-f]{64}\n$/);
    const db = new Database(join(t.dir, 'tokenforge-verifier.db'));
    db.prepare("UPDATE audit SET result = 'invalid' WHERE action = 'verify' AND seq = (SELECT MIN(seq) FROM audit WHERE action = 'verify')").run();
    const seq = (db.prepare("SELECT MIN(seq) AS s FROM audit WHERE action = 'verify'").get() as { s: number }).s;
    db.close();
    const bad = runCli(['verifier', 'audit', 'verify'], t.dir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(`tokenforge: error: audit chain broken at entry ${seq}: entry content does not match its hash (altered)\n`);
  });

  it('refuses to start when the database holds tokens but the master key file is missing', async () => {
    renameSync(join(t.dir, 'tokenforge-verifier.key'), join(t.dir, 'moved.key'));
    await expect(startServer('tokenforge-verifier.db', 'tokenforge-verifier.key', [], t.dir)).rejects.toThrow(/master key file tokenforge-verifier\.key is missing but the database holds 2 tokens/);
    renameSync(join(t.dir, 'moved.key'), join(t.dir, 'tokenforge-verifier.key'));
    writeFileSync(join(t.dir, 'bad.key'), 'k1 1234\n', { mode: 0o600 });
    await expect(startServer('tokenforge-verifier.db', 'bad.key', [], t.dir)).rejects.toThrow(/tokenforge: error: master key file line 1/);
    unlinkSync(join(t.dir, 'bad.key'));
  });

  it('--help is complete; bad flags are one-line usage errors with exit 2', () => {
    for (const args of [['verifier', 'serve', '--help'], ['verifier', 'keys', 'create', '--help'], ['verifier', 'audit', 'verify', '--help'], ['verifier', 'rotate-key', '--help']]) {
      const r = runCli(args, t.dir);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/--db/);
    }
    expect(runCli(['verifier', 'serve', '--help'], t.dir).stdout).toMatch(/--master-key-file[\s\S]*--max-failures/);
    const role = runCli(['verifier', 'keys', 'create', '--role', 'root'], t.dir);
    expect(role.status).toBe(2);
    expect(role.stderr).toMatch(/^tokenforge: error: .*\n$/);
    const mf = runCli(['verifier', 'serve', '--max-failures', '101'], t.dir);
    expect(mf.status).toBe(2);
    expect(mf.stderr).toBe('tokenforge: error: --max-failures must be an integer 1..100\n');
  });

  it('verify-role keys are created and cannot administer', async () => {
    const db = join(t.dir, 'tokenforge-verifier.db');
    const vk = createKey(db, 'verify');
    const srv = await startServer(db, join(t.dir, 'tokenforge-verifier.key'));
    try {
      expect((await call(srv.url, 'GET', '/v1/tokens/CLI-1', vk)).status).toBe(403);
    } finally {
      await srv.stop();
    }
  });
});
