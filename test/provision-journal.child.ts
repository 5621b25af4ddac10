/**
 * Child process for test/provision-journal.test.ts: drives a journal through every stage of every seed,
 * printing one line after each committed transaction, so that the parent can kill -9 it at a random moment and
 * check the journal against what the child reported as committed.
 *
 *   node --import tsx test/provision-journal.child.ts JOURNAL
 */
import { Journal, STAGES, type Stage } from '../provisioner/journal.ts';

const path = process.argv[2]!;
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
for (let i = 1; i <= total; i++) {
  const token = `TOK-${String(i).padStart(4, '0')}`;
  let row = j.findByToken(token);
  if (!row) {
    j.begin('assign', { tokenSerial: token });
    row = j.assign(token, `port-${i}`);
    out(`${row.id} assigned ${token}`);
  }
  for (const [step, stage] of steps) {
    if (STAGES.indexOf(row.stage) >= STAGES.indexOf(stage as Stage)) continue;
    j.begin(step, { tokenSerial: token, seedId: row.id });
    const extra = step === 'write' ? { kcv: Uint8Array.of(i & 0xff, 1, 2) } : step === 'check' ? { registerCounter: BigInt(i) } : {};
    row = j.advance(row.id, step, stage, extra);
    out(`${row.id} ${stage} ${token}`);
  }
}
j.close();
out('done');
