/**
 * The operator's commands (`tokenforge verifier tokens|batch|keys ...`) as real processes against a
 * real `verifier serve` process on a temporary SQLite file: every command, human tables and --json, exit codes
 * (0 ok, 1 the server refused, 2 a usage error and nothing sent), the API key from a file and from the
 * environment (never a flag), bad input (unknown filter flags, empty bulk filters without --all, a stale
 * version, a transition out of revoked) leaving everything unchanged, and the lost-token flow end to end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotp } from '../../otp/hotp.ts';
import { BIN, call, createKey, startServer, tempDir, type ServerProc } from './verifier.helpers.ts';

const t = tempDir('tf-lifecycle-cli-');
const db = join(t.dir, 'verifier.db');
const keyFile = join(t.dir, 'admin.key');
let admin: string;
let srv: ServerProc;

/** Seeds by serial, and the next counter each token will show (the test plays the tokens). */
const seeds = new Map<string, Uint8Array>();
const next = new Map<string, bigint>();
function press(serial: string): string {
  const c = next.get(serial) ?? 0n;
  next.set(serial, c + 1n);
  return hotp(seeds.get(serial)!, c);
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `tokenforge verifier ARGS` with the key from the file (default), the environment, or none. */
function tf(args: string[], key: 'file' | 'env' | 'none' = 'file', env: Record<string, string> = {}): Promise<Run> {
  const keyArgs = key === 'file' ? ['--api-key-file', keyFile] : [];
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete fullEnv['TOKENFORGE_API_KEY'];
  if (key === 'env') fullEnv['TOKENFORGE_API_KEY'] = env['TOKENFORGE_API_KEY'] ?? admin;
  // Local commands (keys create) take --db instead of --url.
  const needsUrl = !args.includes('--help') && !args.includes('--url') && !args.includes('--db');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'verifier', ...args, ...(needsUrl ? ['--url', srv.url] : []), ...keyArgs], { cwd: t.dir, env: fullEnv });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

async function json(args: string[]): Promise<Record<string, unknown>> {
  const r = await tf([...args, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function register(serial: string, batchId: string | null, user: string | null): Promise<void> {
  const seed = Uint8Array.from(randomBytes(20));
  seeds.set(serial, seed);
  const body = { serial, type: 'hotp', secret: Buffer.from(seed).toString('hex'), secretEncoding: 'hex', ...(user ? { user } : {}), ...(batchId ? { batchId } : {}) };
  const r = await call(srv.url, 'POST', '/v1/tokens', admin, body);
  expect(r.status, r.text).toBe(201);
}

const verify = async (body: Record<string, string>): Promise<Record<string, unknown>> => (await call(srv.url, 'POST', '/v1/verify', admin, body)).json;
const tokenOf = async (serial: string): Promise<Record<string, unknown>> => (await call(srv.url, 'GET', `/v1/tokens/${serial}`, admin)).json['token'] as Record<string, unknown>;

beforeAll(async () => {
  admin = createKey(db, 'admin', t.dir);
  writeFileSync(keyFile, `${admin}\n`, { mode: 0o600 });
  srv = await startServer(db, join(t.dir, 'master.key'), [], t.dir);
  for (let i = 1; i <= 3; i++) await register(`FOB-${i}`, 'fobs-a', ['alice', 'bob', 'carol'][i - 1]!);
  for (let i = 4; i <= 5; i++) await register(`FOB-${i}`, 'fobs-b', `user${i}`);
  await register('SPARE-1', 'spares', null);
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  t.cleanup();
});

describe('verifier operator CLI', { timeout: 120_000 }, () => {
  it('takes the API key from a file or TOKENFORGE_API_KEY, never from a flag', async () => {
    const none = await tf(['tokens', 'show', 'FOB-1'], 'none');
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^tokenforge: error: no API key: give --api-key-file FILE or set TOKENFORGE_API_KEY/);
    const flag = await tf(['tokens', 'show', 'FOB-1', '--api-key', admin], 'none');
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/Unknown arguments?: api-key/);
    const env = await tf(['tokens', 'show', 'FOB-1', '--json'], 'env');
    expect(env.status, env.stderr).toBe(0);
    expect(JSON.parse(env.stdout)).toMatchObject({ token: { serial: 'FOB-1', user: 'alice' } });
    const file = await tf(['tokens', 'show', 'FOB-1', '--json'], 'file');
    expect(file.stdout).toBe(env.stdout);
    const wrong = await tf(['tokens', 'show', 'FOB-1'], 'env', { TOKENFORGE_API_KEY: `tfv_000000000000_${'A'.repeat(43)}` });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^tokenforge: error: 401 UNAUTHENTICATED.*--api-key-file/);
    writeFileSync(join(t.dir, 'empty.key'), '# nothing here\n', { mode: 0o600 });
    const empty = await tf(['tokens', 'show', 'FOB-1', '--api-key-file', join(t.dir, 'empty.key')], 'none');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/holds no key/);
  });

  it('tokens list: a table for humans, JSON for scripts, filters and cursor pagination', async () => {
    const human = await tf(['tokens', 'list', '--batch', 'fobs-a']);
    expect(human.status, human.stderr).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SERIAL\s+TYPE\s+STATE\s+USER\s+BATCH\s+LAST USED\s+VERSION$/);
    expect(lines.slice(1, 4).map((l) => l.split(/\s+/).slice(0, 5))).toEqual([
      ['FOB-1', 'hotp', 'active', 'alice', 'fobs-a'],
      ['FOB-2', 'hotp', 'active', 'bob', 'fobs-a'],
      ['FOB-3', 'hotp', 'active', 'carol', 'fobs-a'],
    ]);
    expect(lines[4]).toBe('3 tokens');
    // The columns line up: every row starts its USER column where the header does.
    const col = lines[0]!.indexOf('USER');
    expect(lines.slice(1, 4).every((l) => l.slice(col).startsWith(['alice', 'bob', 'carol'][lines.indexOf(l) - 1]!))).toBe(true);

    const page1 = await json(['tokens', 'list', '--limit', '4']);
    expect((page1['tokens'] as { serial: string }[]).map((x) => x.serial)).toEqual(['FOB-1', 'FOB-2', 'FOB-3', 'FOB-4']);
    expect(typeof page1['nextCursor']).toBe('string');
    const page2 = await json(['tokens', 'list', '--limit', '4', '--cursor', String(page1['nextCursor'])]);
    expect((page2['tokens'] as { serial: string }[]).map((x) => x.serial)).toEqual(['FOB-5', 'SPARE-1']);
    expect(page2['nextCursor']).toBeNull();
    expect(((await json(['tokens', 'list', '--user', 'bob']))['tokens'] as { serial: string }[]).map((x) => x.serial)).toEqual(['FOB-2']);
    expect(((await json(['tokens', 'list', '--serial-prefix', 'SPARE', '--never-used']))['tokens'] as unknown[]).length).toBe(1);
    const more = await tf(['tokens', 'list', '--limit', '2']);
    expect(more.stdout).toMatch(/more: add --cursor \S+\n$/);
  });

  it('bad filters are usage errors (exit 2) before anything is sent', async () => {
    for (const args of [
      ['tokens', 'list', '--colour', 'red'],
      ['tokens', 'list', '--state', 'sleeping'],
      ['tokens', 'list', '--limit', '0'],
      ['tokens', 'list', '--used-before', 'yesterday'],
      ['tokens', 'revoke', '--batch', 'fobs-a', '--owner', 'x'],
      ['tokens', 'disable', 'FOB-1', '--batch', 'fobs-a'],
    ]) {
      const r = await tf(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^tokenforge: error: .+\n$/);
    }
    expect(((await json(['tokens', 'list', '--state', 'active']))['tokens'] as unknown[]).length).toBe(6);
  });

  it('tokens show prints one token as key/value lines or JSON; an unknown serial exits 1', async () => {
    const r = await tf(['tokens', 'show', 'FOB-2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^serial\s+FOB-2$/m);
    expect(r.stdout).toMatch(/^batchId\s+fobs-a$/m);
    expect(r.stdout).toMatch(/^version\s+\d+$/m);
    expect(r.stdout).not.toMatch(/secret/i);
    const j = (await json(['tokens', 'show', 'FOB-2']))['token'] as Record<string, unknown>;
    expect(j).toMatchObject({ serial: 'FOB-2', user: 'bob', state: 'active', batchId: 'fobs-a' });
    const missing = await tf(['tokens', 'show', 'NOPE-1']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^tokenforge: error: 404 NOT_FOUND/);
  });

  it('tokens update reassigns with a version precondition; a stale version is a 409 naming the fix, nothing changed', async () => {
    const before = (await json(['tokens', 'show', 'FOB-2']))['token'] as { version: number };
    const r = await tf(['tokens', 'update', 'FOB-2', '--user', 'dave', '--label', 'desk fob', '--expect-version', String(before.version)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^FOB-2: updated user, label \(version \d+\)/);
    const after = await tokenOf('FOB-2');
    expect(after).toMatchObject({ user: 'dave', label: 'desk fob' });
    expect(after['version']).toBeGreaterThan(before.version);

    const stale = await tf(['tokens', 'update', 'FOB-2', '--user', 'eve', '--expect-version', String(before.version)]);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toMatch(
      new RegExp(`^tokenforge: error: 409 VERSION_MISMATCH: token FOB-2 is at version ${String(after['version'])}\\b.*; you sent version ${before.version}; re-read it with \`tokenforge verifier tokens show FOB-2\`\n$`),
    );
    expect(await tokenOf('FOB-2')).toMatchObject({ user: 'dave', version: after['version'] });

    // Without --expect-version the command reads the current version itself; "" unassigns; windows take "default".
    const back = await json(['tokens', 'update', 'FOB-2', '--user', 'bob', '--look-ahead', '5']);
    expect(back['token']).toMatchObject({ user: 'bob', lookAhead: 5 });
    expect((await json(['tokens', 'update', 'FOB-2', '--look-ahead', 'default', '--label', '']))['token']).toMatchObject({ lookAhead: null, label: null });
    const nothing = await tf(['tokens', 'update', 'FOB-2']);
    expect(nothing.status).toBe(2);
    expect((await tf(['tokens', 'update', 'FOB-2', '--window-back', 'lots'])).status).toBe(2);
  });

  it('disable, enable, unlock, revoke one token; nothing leaves revoked', async () => {
    const code = press('FOB-3');
    const dis = await tf(['tokens', 'disable', 'FOB-3', '--reason', 'on holiday']);
    expect(dis.status, dis.stderr).toBe(0);
    expect(dis.stdout).toBe(`FOB-3: disabled (state disabled, version ${String((await tokenOf('FOB-3'))['version'])})\n`);
    expect((await verify({ serial: 'FOB-3', code })).result).toBe('disabled');
    expect((await json(['tokens', 'enable', 'FOB-3']))['token']).toMatchObject({ state: 'active' });
    expect((await json(['tokens', 'unlock', 'FOB-3']))['token']).toMatchObject({ state: 'active', failCount: 0 });
    expect((await verify({ serial: 'FOB-3', code: press('FOB-3') })).result).toBe('ok');

    expect((await json(['tokens', 'revoke', 'FOB-3', '--reason', 'left the company']))['token']).toMatchObject({ state: 'revoked' });
    const version = (await tokenOf('FOB-3'))['version'];
    for (const args of [['tokens', 'enable', 'FOB-3'], ['tokens', 'unlock', 'FOB-3'], ['tokens', 'disable', 'FOB-3'], ['tokens', 'update', 'FOB-3', '--user', 'zed']]) {
      const r = await tf(args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^tokenforge: error: 409 INVALID_TRANSITION/);
    }
    expect(await tokenOf('FOB-3')).toMatchObject({ state: 'revoked', user: 'carol', version });
    expect((await verify({ serial: 'FOB-3', code: press('FOB-3') })).result).not.toBe('ok');
  });

  it('bulk actions need a filter or --all; --dry-run counts only; batch show and batch revoke', async () => {
    const empty = await tf(['tokens', 'disable']);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/give a SERIAL, a filter .* or --all/);
    const dry = await json(['tokens', 'disable', '--all', '--dry-run']);
    expect(dry).toMatchObject({ action: 'disable', dryRun: true });
    expect(dry['matched']).toBe(6);
    expect(((await json(['tokens', 'list', '--state', 'disabled']))['tokens'] as unknown[]).length).toBe(0);

    const show = await tf(['batch', 'show', 'fobs-b']);
    expect(show.status, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/^batch\s+fobs-b$/m);
    expect(show.stdout).toMatch(/^tokens\s+2$/m);
    expect(show.stdout).toMatch(/^by state\s+.*active 2/m);
    expect((await tf(['batch', 'show', 'no-such-batch'])).status).toBe(1);

    const codes = ['FOB-4', 'FOB-5'].map((s) => [s, press(s)] as const);
    const dryB = await tf(['batch', 'revoke', 'fobs-b', '--dry-run']);
    expect(dryB.stdout).toBe('dry run: revoke would change 2 of 2 matching tokens (batch=fobs-b); nothing changed\n');
    const head = (await call(srv.url, 'GET', '/v1/audit?limit=1000', admin)).json['entries'] as { seq: number }[];
    const seq = head[head.length - 1]!.seq;
    const rev = await tf(['batch', 'revoke', 'fobs-b', '--reason', 'vendor seed file leaked']);
    expect(rev.status, rev.stderr).toBe(0);
    expect(rev.stdout).toBe('revoke: 2 of 2 matching tokens revoked (batch=fobs-b); one audit entry\n');
    for (const [serial, code] of codes) expect((await verify({ serial, code })).result).not.toBe('ok');
    const entries = (await call(srv.url, 'GET', `/v1/audit?after=${seq}&limit=1000`, admin)).json['entries'] as { action: string; serial: string | null; detail: Record<string, unknown> }[];
    const bulk = entries.filter((e) => e.action !== 'verify');
    expect(bulk).toHaveLength(1);
    expect(JSON.stringify(bulk[0]!.detail)).toContain('fobs-b');
    expect(((await json(['batch', 'show', 'fobs-b']))['byState'] as Record<string, number>)['revoked']).toBe(2);
    // Bulk enable of the revoked batch changes nothing (revoked is terminal).
    const en = await json(['tokens', 'enable', '--batch', 'fobs-b']);
    expect(en['changed']).toBe(0);
    expect(((await json(['tokens', 'list', '--batch', 'fobs-b', '--state', 'revoked']))['tokens'] as unknown[]).length).toBe(2);
  });

  it('tokens lost: the token stops verifying at once; enable when it is found again', async () => {
    const lost = await tf(['tokens', 'lost', 'FOB-1', '--reason', 'left on the train']);
    expect(lost.status, lost.stderr).toBe(0);
    expect(lost.stdout).toMatch(/^FOB-1: marked lost \(state lost, version \d+\)\n$/);
    expect(await tokenOf('FOB-1')).toMatchObject({ state: 'lost', stateReason: 'left on the train' });
    expect((await verify({ user: 'alice', code: press('FOB-1') })).result).not.toBe('ok');
    expect((await json(['tokens', 'enable', 'FOB-1', '--reason', 'found it']))['token']).toMatchObject({ state: 'active' });
    expect((await verify({ user: 'alice', code: press('FOB-1') })).result).toBe('ok');
  });

  it('tokens delete leaves a tombstone; the serial is gone', async () => {
    const r = await tf(['tokens', 'delete', 'FOB-2', '--reason', 'broken']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('FOB-2: deleted (tombstone kept)\n');
    expect((await tf(['tokens', 'show', 'FOB-2'])).status).toBe(1);
    expect((await tf(['tokens', 'delete', 'FOB-2'])).status).toBe(1);
  });

  it('keys create with an expiry, keys list, keys revoke: a revoked key is refused', async () => {
    const bad = await tf(['keys', 'create', '--role', 'admin', '--db', db, '--expires-in', 'soon'], 'none');
    expect(bad.status).toBe(2);
    const made = await tf(['keys', 'create', '--role', 'admin', '--label', 'laptop', '--db', db, '--expires-in', '30d'], 'none');
    expect(made.status, made.stderr).toBe(0);
    const stolen = made.stdout.trim();
    const id = /^tfv_([0-9a-f]{12})_/.exec(stolen)![1]!;
    const list = await tf(['keys', 'list']);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+ROLE\s+LABEL\s+CREATED\s+LAST USED\s+EXPIRES\s+REVOKED$/);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+admin\\s+laptop\\s+\\S+\\s+-\\s+\\S+\\s+-$`, 'm'));
    expect(list.stdout).not.toContain(stolen.slice(18));
    const listed = ((await json(['keys', 'list']))['keys'] as { id: string; expiresAt: string | null }[]).find((k) => k.id === id)!;
    expect(Date.parse(listed.expiresAt!) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect((await tf(['tokens', 'list'], 'env', { TOKENFORGE_API_KEY: stolen })).status).toBe(0);

    expect((await tf(['keys', 'revoke', 'not-an-id'])).status).toBe(2);
    const rev = await tf(['keys', 'revoke', id]);
    expect(rev.status, rev.stderr).toBe(0);
    expect(rev.stdout).toMatch(new RegExp(`^key ${id} \\(admin, laptop\\) revoked at \\S+\\n$`));
    await new Promise((r) => setTimeout(r, 1100));
    const refused = await tf(['tokens', 'list'], 'env', { TOKENFORGE_API_KEY: stolen });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^tokenforge: error: 401 /);
    expect(((await json(['keys', 'list']))['keys'] as { id: string; revokedAt: string | null }[]).find((k) => k.id === id)!.revokedAt).not.toBeNull();
  });

  it('--help names every command; a server that does not answer exits 1', async () => {
    const help = await tf(['tokens', '--help'], 'none');
    expect(help.status).toBe(0);
    for (const c of ['list', 'show', 'update', 'enable', 'disable', 'unlock', 'lost', 'revoke', 'delete']) expect(help.stdout).toContain(`tokens ${c}`);
    const down = await tf(['tokens', 'list', '--url', 'http://127.0.0.1:9'], 'file');
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/^tokenforge: error: verifier http:\/\/127\.0\.0\.1:9 did not answer .*check --url\n$/);
  });
});
