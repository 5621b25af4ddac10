/**
 * The provisioning journal (provisioner/journal/) on real SQLite files: encryption at rest, key handling,
 * schema-enforced invariants (assign once, stage only forward), and crash safety — a child process driving
 * the journal with one worker, through the group-committed records the pipeline writes, is killed with
 * SIGKILL at random points and the journal is checked against what the child reported as committed after
 * every kill.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OtpParams } from '../../otp/otp-params.ts';
import { Secret } from '../../otp/secret.ts';
import { Journal, keyFilePath, STAGES, type Stage } from '../../provisioner/journal/index.ts';
import { committedSeeds } from '../../provisioner/pipeline.ts';
import type { SeedRecord } from '../../provisioner/seed.ts';
import { runKillableChild } from './provision.helpers.ts';

function makeSeeds(n: number, prefix = 'SRC'): { records: SeedRecord[]; raw: Uint8Array[] } {
  const raw: Uint8Array[] = [];
  const records: SeedRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const bytes = Uint8Array.from(randomBytes(20));
    raw.push(bytes);
    const otp: OtpParams = i % 2 ? { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: BigInt(i) } : { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: 0n };
    records.push({ serial: `${prefix}-${i}`, secret: Secret.copyOf(bytes), otp, user: `user${i}` });
  }
  return { records, raw };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-journal-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('journal basics', () => {
  it('keeps seeds encrypted under a 0600 key file and decrypts them back', () => {
    const path = join(dir, 'j.db');
    const { records, raw } = makeSeeds(5);
    const j = Journal.create({ path, seeds: records, settings: { verifierUrl: 'http://x' }, key: { kind: 'file' } });
    expect(statSync(keyFilePath(path)).mode & 0o777).toBe(0o600);
    j.close();
    // No seed appears in clear anywhere in the file.
    const file = readFileSync(path);
    for (const s of raw) expect(file.indexOf(Buffer.from(s))).toBe(-1);
    const k = Journal.open(path, { kind: 'file' });
    expect(k.settings()).toEqual({ verifierUrl: 'http://x' });
    const rows = k.rows();
    expect(rows.map((r) => r.stage)).toEqual(Array(5).fill('pending'));
    for (const [i, r] of rows.entries()) {
      const rec = k.seed(r);
      expect(Buffer.from(rec.secret.exposeSecretBytes()).equals(Buffer.from(raw[i]!))).toBe(true);
      expect(rec.otp).toEqual(records[i]!.otp);
      if (rec.otp.type === 'hotp') expect(rec.otp.counter).toBe(BigInt(i + 1));
      expect(rec.user).toBe(`user${i + 1}`);
    }
    k.close();
  });

  it('refuses a wrong or exposed key file and a second journal at the same path', () => {
    const path = join(dir, 'j.db');
    Journal.create({ path, seeds: makeSeeds(2).records, settings: {}, key: { kind: 'file' } }).close();
    expect(() => Journal.create({ path, seeds: makeSeeds(1).records, settings: {}, key: { kind: 'file' } })).toThrow(expect.objectContaining({ code: 'JOURNAL_EXISTS' }));
    chmodSync(keyFilePath(path), 0o644);
    expect(() => Journal.open(path, { kind: 'file' })).toThrow(expect.objectContaining({ code: 'JOURNAL_KEY' }));
    chmodSync(keyFilePath(path), 0o600);
    const good = readFileSync(keyFilePath(path), 'utf8');
    rmSync(keyFilePath(path));
    expect(() => Journal.open(path, { kind: 'file' })).toThrow(expect.objectContaining({ code: 'JOURNAL_KEY' }));
    // A different (well-formed) key does not open it.
    const other = good.startsWith('0') ? `1${good.slice(1)}` : `0${good.slice(1)}`;
    writeFileSync(keyFilePath(path), other, { mode: 0o600 });
    expect(() => Journal.open(path, { kind: 'file' })).toThrow(expect.objectContaining({ code: 'JOURNAL_KEY' }));
    expect(() => Journal.open(join(dir, 'none.db'), { kind: 'file' })).toThrow(expect.objectContaining({ code: 'JOURNAL_CORRUPT' }));
  });

  it('derives the key from a passphrase when asked, and a wrong passphrase fails', () => {
    const path = join(dir, 'p.db');
    const { records, raw } = makeSeeds(2);
    Journal.create({ path, seeds: records, settings: {}, key: { kind: 'passphrase', passphrase: 'correct horse battery' } }).close();
    expect(existsSync(keyFilePath(path))).toBe(false);
    expect(() => Journal.open(path, { kind: 'passphrase', passphrase: 'wrong horse battery' })).toThrow(expect.objectContaining({ code: 'JOURNAL_KEY' }));
    expect(() => Journal.open(path, { kind: 'file' })).toThrow(expect.objectContaining({ code: 'JOURNAL_KEY' }));
    const j = Journal.open(path, { kind: 'passphrase', passphrase: 'correct horse battery' });
    expect(Buffer.from(j.seed(j.rows()[1]!).secret.exposeSecretBytes()).equals(Buffer.from(raw[1]!))).toBe(true);
    j.close();
  });

  it('assigns a seed once, prefers the seed whose source serial is the token serial, and never moves back', async () => {
    const path = join(dir, 'j.db');
    const j = Journal.create({ path, seeds: makeSeeds(3).records, settings: {}, key: { kind: 'file' } });
    const a = await j.assign('SRC-2');
    expect(a.id).toBe(2);
    expect((await j.assign('SRC-2')).id).toBe(2); // idempotent per token
    const b = await j.assign('OTHER');
    expect(b.id).toBe(1);
    await j.assign('THIRD');
    await expect(j.assign('FOURTH')).rejects.toThrow(expect.objectContaining({ code: 'NO_SEED_LEFT' }));
    await j.advance(a.id, 'write', 'written', { kcv: Uint8Array.of(1, 2, 3) });
    await j.advance(a.id, 'check', 'checked', { registerCounter: 5n });
    // A stale "written" after "checked" does not move the stage back.
    expect((await j.advance(a.id, 'write', 'written')).stage).toBe('checked');
    j.close();
    // The schema itself forbids re-assignment and backwards moves, whoever writes to the file.
    const db = new Database(path);
    expect(() => db.prepare("UPDATE seeds SET token_serial = 'X' WHERE id = 2").run()).toThrow(/already assigned/);
    expect(() => db.prepare('UPDATE seeds SET stage = 1 WHERE id = 2').run()).toThrow(/cannot move back/);
    expect(() => db.prepare("UPDATE seeds SET token_serial = 'SRC-2' WHERE id = 3").run()).toThrow();
    expect(() => db.prepare('UPDATE seeds SET ciphertext = x\'00\' WHERE id = 3').run()).toThrow(/immutable/);
    db.close();
  });

  it('records failures per seed and per token, and clears them on the next success', async () => {
    const j = Journal.create({ path: join(dir, 'j.db'), seeds: makeSeeds(2).records, settings: {}, key: { kind: 'file' } });
    const r = await j.assign('T1');
    await j.failSeed(r.id, 'write', 'TOKEN_UNREACHABLE', 'port closed', '/dev/pts/9');
    expect(j.row(r.id)).toMatchObject({ stage: 'assigned', errorCode: 'TOKEN_UNREACHABLE', attempts: 1 });
    expect(j.counts().failedSeeds).toBe(1);
    await j.advance(r.id, 'write', 'written', { kcv: Uint8Array.of(9, 9, 9) });
    expect(j.row(r.id)).toMatchObject({ stage: 'written', errorCode: null });
    await j.failToken('/dev/pts/3', 'T2', 'authenticate', 'PIN_INVALID', 'wrong admin PIN (2 retries left)');
    expect(j.tokenFailures()).toEqual([{ target: '/dev/pts/3', tokenSerial: 'T2', code: 'PIN_INVALID', message: 'wrong admin PIN (2 retries left)' }]);
    j.clearTokenFailure('/dev/pts/3');
    expect(j.tokenFailures()).toEqual([]);
    j.close();
  });

  it('reads seed rows in the first layout (flat fields) as well as the current one, and resumes them', async () => {
    const path = join(dir, 'old.db');
    const { records } = makeSeeds(4, 'OLD');
    Journal.create({ path, seeds: records, settings: {}, key: { kind: 'file' } }).close();
    // New rows: the shared parameter model's JSON beside the labels.
    const db = new Database(path);
    const params = (id: number): string => (db.prepare('SELECT params FROM seeds WHERE id = ?').get(id) as { params: string }).params;
    expect(JSON.parse(params(1))).toEqual({ otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: '1' }, user: 'user1' });
    expect(JSON.parse(params(2))).toEqual({ otp: { type: 'totp', algorithm: 'SHA1', digits: 6, periodSec: 30, t0Sec: '0' }, user: 'user2' });
    // Rows exactly as journals written before the seed record carried `otp` hold them (every field, whatever the
    // type). Only the params column differs between the layouts; the trigger that keeps it immutable is lifted
    // for the rewrite and put back.
    const old = [
      '{"type":"hotp","algorithm":"SHA1","digits":8,"periodSec":30,"t0":"0","counter":"7","label":"lab, \\"bench\\" 1","user":"alice"}',
      '{"type":"totp","algorithm":"SHA256","digits":8,"periodSec":60,"t0":"30","counter":"0","issuer":"Example","keyId":"k2","manufacturer":"ACME"}',
      '{"type":"ocra","algorithm":"SHA1","digits":6,"periodSec":30,"t0":"0","counter":"0","ocraSuite":"OCRA-1:HOTP-SHA1-6:QN08"}',
      '{"type":"ocra","algorithm":"SHA256","digits":8,"periodSec":30,"t0":"0","counter":"5","ocraSuite":"OCRA-1:HOTP-SHA256-8:C-QN08"}',
    ];
    const trigger = (db.prepare("SELECT sql FROM sqlite_master WHERE name = 'seeds_secret_immutable'").get() as { sql: string }).sql;
    db.exec('DROP TRIGGER seeds_secret_immutable');
    old.forEach((p, i) => db.prepare('UPDATE seeds SET params = ?, seed_type = ? WHERE id = ?').run(p, (JSON.parse(p) as { type: string }).type, i + 1));
    db.exec(trigger);
    db.close();

    const j = Journal.open(path, { kind: 'file' });
    const got = j.rows().map((r) => {
      const s = j.seed(r);
      const { secret, ...rest } = s;
      expect(secret.length).toBe(20);
      return rest;
    });
    expect(got).toEqual([
      { serial: 'OLD-1', otp: { type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 7n }, label: 'lab, "bench" 1', user: 'alice' },
      { serial: 'OLD-2', otp: { type: 'totp', algorithm: 'SHA256', digits: 8, periodSec: 60, t0Sec: 30n }, issuer: 'Example', keyId: 'k2', manufacturer: 'ACME' },
      { serial: 'OLD-3', otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA1-6:QN08' } },
      { serial: 'OLD-4', otp: { type: 'ocra', suite: 'OCRA-1:HOTP-SHA256-8:C-QN08', counter: 5n } },
    ]);
    // A resumed batch assigns and completes an old row like a new one, and its export counter is the registered one.
    const row = await j.assign('TOK-1', 'port-1', ['hotp']);
    expect(row.id).toBe(1);
    await j.advance(row.id, 'write', 'written', { kcv: Uint8Array.of(1) });
    await j.advance(row.id, 'check', 'checked', { registerCounter: 8n });
    for (const [step, stage] of [['lock', 'locked'], ['register', 'registered'], ['commit', 'committed']] as const) await j.advance(row.id, step, stage);
    const [done] = committedSeeds(j);
    expect(done).toMatchObject({ serial: 'TOK-1', otp: { type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 8n }, user: 'alice' });
    done!.secret.wipe();
    j.close();
  });
});


const RANK = Object.fromEntries(STAGES.map((s, i) => [s, i])) as Record<Stage, number>;

function runChild(path: string, killAfterLines: number | null): Promise<{ lines: string[]; killed: boolean }> {
  return runKillableChild('test/provisioner/journal.child.ts', [path, '1'], killAfterLines);
}

describe('journal crash safety (kill -9 a child mid-transaction)', () => {
  it('after every kill the journal holds every committed step, each step atomically, and ends complete', async () => {
    const path = join(dir, 'crash.db');
    const N = 8;
    const { records, raw } = makeSeeds(N);
    Journal.create({ path, seeds: records, settings: {}, key: { kind: 'file' } }).close();
    const reported = new Map<number, { stage: Stage; token: string }>();
    let kills = 0;
    for (let round = 0; round < 6; round++) {
      // Each pass commits 6 transactions per seed; kill after a random number of reported commits (>= 1).
      // 6 rounds of at most 6 commits cannot finish the 56 commits of the batch: every round ends in a kill.
      const target = 1 + Math.floor(Math.random() * 6);
      const { lines, killed } = await runChild(path, target);
      for (const line of lines) {
        if (line === 'done') continue;
        const [id, stage, token] = line.split(' ') as [string, Stage, string];
        reported.set(Number(id), { stage, token });
      }
      const j = Journal.open(path, { kind: 'file' });
      const events = j.events();
      for (const row of j.rows()) {
        const rep = reported.get(row.id);
        if (rep) {
          expect(RANK[row.stage]).toBeGreaterThanOrEqual(RANK[rep.stage]);
          expect(row.tokenSerial).toBe(rep.token);
        }
        if (row.tokenSerial !== null) expect(row.tokenSerial).toBe(`TOK-${String(row.id).padStart(4, '0')}`);
        else expect(row.stage).toBe('pending');
        expect(row.kcv !== null).toBe(RANK[row.stage] >= RANK.written);
        expect(row.registerCounter !== null).toBe(RANK[row.stage] >= RANK.checked);
        // One 'end' event per stage reached, written in the same transaction as the stage.
        expect(events.filter((e) => e.seedId === row.id && e.phase === 'end').length).toBe(RANK[row.stage]);
      }
      const done = j.counts().byStage.committed === N;
      j.close();
      if (killed) kills++;
      if (done) break;
    }
    // Finish whatever is left without a kill.
    await runChild(path, null);
    const j = Journal.open(path, { kind: 'file' });
    expect(j.counts().byStage.committed).toBe(N);
    const tokens = new Set(j.rows().map((r) => r.tokenSerial));
    expect(tokens.size).toBe(N);
    for (const [i, r] of j.rows().entries()) expect(Buffer.from(j.seed(r).secret.exposeSecretBytes()).equals(Buffer.from(raw[i]!))).toBe(true);
    j.close();
    expect(kills).toBe(6);
  }, 120_000);
});
