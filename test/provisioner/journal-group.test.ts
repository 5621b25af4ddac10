/**
 * Group commit in the provisioning journal (provisioner/journal/index.ts `#enqueue`), on real SQLite files: records
 * asked for in the same tick share one transaction, each promise settles only after that transaction committed
 * (seen from a second connection), a failing record is rolled back alone, a batch is fsync'ed exactly when one
 * of its records needs it — and a child process writing with concurrent workers, killed with SIGKILL at random
 * points, never reported a record that is not in the journal.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../otp/secret.ts';
import { Journal, STAGES, type Stage } from '../../provisioner/journal/index.ts';
import type { SeedRecord } from '../../provisioner/seed.ts';
import { runKillableChild } from './provision.helpers.ts';

function makeSeeds(n: number): { records: SeedRecord[]; raw: Uint8Array[] } {
  const raw: Uint8Array[] = [];
  const records: SeedRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const bytes = Uint8Array.from(randomBytes(20));
    raw.push(bytes);
    records.push({ serial: `SRC-${i}`, secret: Secret.copyOf(bytes), otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } });
  }
  return { records, raw };
}

const RANK = Object.fromEntries(STAGES.map((s, i) => [s, i])) as Record<Stage, number>;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-journal-group-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('journal group commit', () => {
  it('commits the records of concurrent callers in one transaction and settles each promise after the commit', async () => {
    const path = join(dir, 'g.db');
    const j = Journal.create({ path, seeds: makeSeeds(6).records, settings: {}, key: { kind: 'file' } });
    const reader = new Database(path, { readonly: true });
    const stageOf = (id: number): number => (reader.prepare('SELECT stage FROM seeds WHERE id = ?').get(id) as { stage: number }).stage;
    try {
      const seen: number[] = [];
      const assigned = await Promise.all(
        ['A', 'B', 'C', 'D', 'E', 'F'].map((t) =>
          j.assign(`TOK-${t}`, `port-${t}`).then((row) => {
            // Settled after COMMIT: another connection already sees the assignment.
            seen.push(stageOf(row.id));
            return row;
          }),
        ),
      );
      expect(seen).toEqual([1, 1, 1, 1, 1, 1]);
      expect(new Set(assigned.map((r) => r.id)).size).toBe(6); // six workers in one transaction: six different seeds
      expect(j.commitStats()).toEqual({ transactions: 1, durableTransactions: 1, records: 6 });

      // Records of one tick that need no fsync commit together with synchronous=NORMAL.
      await Promise.all(assigned.map((r) => j.begin('write', { seedId: r.id, tokenSerial: r.tokenSerial })));
      const written = await Promise.all(assigned.map((r) => j.advance(r.id, 'write', 'written', { kcv: Uint8Array.of(r.id) })));
      expect(written.map((r) => r.stage)).toEqual(Array(6).fill('written'));
      expect(j.commitStats()).toEqual({ transactions: 3, durableTransactions: 1, records: 18 });
      // One 'checked' record (which must survive a power cut) makes its whole batch fsync'ed.
      await Promise.all([
        j.advance(assigned[0]!.id, 'check', 'checked', { registerCounter: 1n }),
        j.advance(assigned[1]!.id, 'lock', 'locked').catch(() => undefined),
        j.note('identify', { target: 'port-X' }),
      ]);
      expect(j.commitStats()).toEqual({ transactions: 4, durableTransactions: 2, records: 21 });
      expect(stageOf(assigned[0]!.id)).toBe(RANK.checked);
    } finally {
      reader.close();
      j.close();
    }
  });

  it('rolls a failing record back alone: the other records of its batch commit', async () => {
    const path = join(dir, 'f.db');
    const j = Journal.create({ path, seeds: makeSeeds(2).records, settings: {}, key: { kind: 'file' } });
    try {
      const results = await Promise.allSettled([
        j.assign('T1'),
        j.assign('T2'),
        j.assign('T3'), // no seed left
        j.advance(99, 'write', 'written', { kcv: Uint8Array.of(1) }), // no such seed
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
      expect(results[2]).toMatchObject({ reason: { code: 'NO_SEED_LEFT' } });
      expect(results[3]).toMatchObject({ reason: { code: 'JOURNAL_CORRUPT' } });
      expect(j.commitStats().transactions).toBe(1);
      const t2 = j.findByToken('T2')!;
      await j.advance(t2.id, 'write', 'written', { kcv: Uint8Array.of(4) });
      await j.advance(t2.id, 'register', 'registered', { registerCounter: 3n });
      // This record writes the KCV, then is refused (a registered counter cannot change): its SAVEPOINT undoes
      // the KCV it had written, while the record batched with it commits.
      const [refused, note] = await Promise.allSettled([
        j.advance(t2.id, 'check', 'checked', { kcv: Uint8Array.of(7, 7), registerCounter: 5n }),
        j.note('identify', { target: 'port-N' }),
      ]);
      expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'JOURNAL_CORRUPT' } });
      expect(note.status).toBe('fulfilled');
      const row = j.row(t2.id);
      expect([...row.kcv!]).toEqual([4]);
      expect(row.registerCounter).toBe(3n);
      expect(row.stage).toBe('registered');
      expect(j.events().filter((e) => e.seedId === t2.id && e.step === 'check')).toEqual([]);
      expect(j.events().filter((e) => e.target === 'port-N')).toHaveLength(1);
    } finally {
      j.close();
    }
  });

  it('close() commits records still queued', async () => {
    const path = join(dir, 'c.db');
    const j = Journal.create({ path, seeds: makeSeeds(1).records, settings: {}, key: { kind: 'file' } });
    const p = j.assign('T1');
    j.close();
    expect((await p).tokenSerial).toBe('T1');
    const again = Journal.open(path, { kind: 'file' });
    expect(again.findByToken('T1')?.stage).toBe('assigned');
    again.close();
  });
});

function runChild(path: string, workers: number, killAfterLines: number | null): Promise<{ lines: string[]; killed: boolean }> {
  return runKillableChild('test/provisioner/journal.child.ts', [path, String(workers)], killAfterLines);
}

describe('journal group commit crash safety (kill -9 a child with concurrent workers)', () => {
  it('every record a worker was told is committed is in the journal after the kill, each step atomic', async () => {
    const path = join(dir, 'crash.db');
    const N = 24;
    const { records, raw } = makeSeeds(N);
    Journal.create({ path, seeds: records, settings: {}, key: { kind: 'file' } }).close();
    const reported = new Map<number, { stage: Stage; token: string }>();
    let kills = 0;
    for (let round = 0; round < 5; round++) {
      // 4 workers; kill after 1..30 reported records (144 in all): every round ends in a kill.
      const { lines, killed } = await runChild(path, 4, 1 + Math.floor(Math.random() * 30));
      for (const line of lines) {
        if (line === 'done') continue;
        const [id, stage, token] = line.split(' ') as [string, Stage, string];
        const prev = reported.get(Number(id));
        if (!prev || RANK[stage] > RANK[prev.stage]) reported.set(Number(id), { stage, token });
      }
      const j = Journal.open(path, { kind: 'file' });
      const events = j.events();
      const rows = j.rows();
      for (const [id, rep] of reported) {
        const row = rows.find((r) => r.id === id)!;
        expect(RANK[row.stage]).toBeGreaterThanOrEqual(RANK[rep.stage]);
        expect(row.tokenSerial).toBe(rep.token);
      }
      for (const row of rows) {
        if (row.tokenSerial === null) expect(row.stage).toBe('pending');
        expect(row.kcv !== null).toBe(RANK[row.stage] >= RANK.written);
        expect(row.registerCounter !== null).toBe(RANK[row.stage] >= RANK.checked);
        expect(events.filter((e) => e.seedId === row.id && e.phase === 'end').length).toBe(RANK[row.stage]);
      }
      expect(new Set(rows.filter((r) => r.tokenSerial !== null).map((r) => r.tokenSerial)).size).toBe(rows.filter((r) => r.tokenSerial !== null).length);
      j.close();
      if (killed) kills++;
    }
    await runChild(path, 4, null);
    const j = Journal.open(path, { kind: 'file' });
    expect(j.counts().byStage.committed).toBe(N);
    for (const r of j.rows()) expect(Buffer.from(j.seed(r).secret.exposeSecretBytes()).equals(Buffer.from(raw[r.id - 1]!))).toBe(true);
    j.close();
    expect(kills).toBe(5);
  }, 120_000);
});
