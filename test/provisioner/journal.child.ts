/**
 * Child process for test/provisioner/journal.test.ts (one worker) and test/provisioner/journal-group.test.ts
 * (several): concurrent workers drive a journal through every stage of every seed with the group-committed
 * API the pipeline uses, printing one line after each record's promise resolved — i.e. after the transaction
 * holding it committed — so that the parent can kill -9 it at a random moment and check that every record
 * reported was in the journal.
 *
 *   node --import tsx test/provisioner/journal.child.ts JOURNAL WORKERS
 */
import { Journal, STAGES, type Stage } from '../../provisioner/journal/index.ts';

const path = process.argv[2]!;
const workers = Number(process.argv[3] ?? 4);
const j = Journal.open(path, { kind: 'file' });
const steps = [
  ['write', 'written'],
  ['check', 'checked'],
  ['lock', 'locked'],
  ['register', 'registered'],
  ['commit', 'committed'],
] as const;
const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const total = j.counts().total;
let next = 1;
async function worker(): Promise<void> {
  for (;;) {
    const i = next++;
    if (i > total) return;
    const token = `TOK-${String(i).padStart(4, '0')}`;
    let row = j.findByToken(token);
    if (!row) {
      await j.begin('assign', { tokenSerial: token });
      row = await j.assign(token, `port-${i}`);
      out(`${row.id} assigned ${token}`);
    }
    for (const [step, stage] of steps) {
      if (STAGES.indexOf(row.stage) >= STAGES.indexOf(stage as Stage)) continue;
      await j.begin(step, { tokenSerial: token, seedId: row.id });
      const extra = step === 'write' ? { kcv: Uint8Array.of(i & 0xff, 1, 2) } : step === 'check' ? { registerCounter: BigInt(i) } : {};
      row = await j.advance(row.id, step, stage, extra);
      out(`${row.id} ${stage} ${token}`);
    }
  }
}
await Promise.all(Array.from({ length: workers }, worker));
j.close();
out('done');
