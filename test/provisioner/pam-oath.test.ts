/**
 * The pam_oath users file we export is accepted by the real PAM stack: a PAM service (unique name under
 * /etc/pam.d, removed afterwards) runs pam_oath.so with our file, and `pamtester` authenticates with a code
 * computed by our otp library (HOTP ahead of the stored counter within the window, TOTP now; replays and
 * wrong codes refused). oathtool, computing from the key in each line, agrees with our codes.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hotp } from '../../otp/hotp.ts';
import { totp } from '../../otp/totp.ts';
import { exportSeeds } from '../../provisioner/exports/index.ts';
import type { SeedRecord } from '../../provisioner/seed.ts';
import { generateSeeds, nodeRng } from '../../provisioner/sources/index.ts';
import { run, tempDir } from './pskc.helpers.ts';
import { canUsePam, pamService } from './pam.helpers.ts';

const tmp = tempDir('tf-pam-oath-');
const usersFile = join(tmp.dir, 'users.oath');
const pam = pamService('tokenforge-test', usersFile, 'test/provisioner/pam-oath.test.ts');
let hotpSeeds: SeedRecord[];
let totpSeeds: SeedRecord[];

beforeAll(async () => {
  hotpSeeds = generateSeeds(2, { serialPrefix: 'HOTP-', serialStart: 1, counter: 5n }, nodeRng);
  hotpSeeds[1]!.otp = { type: 'hotp', algorithm: 'SHA1', digits: 8, counter: 5n };
  totpSeeds = generateSeeds(1, { type: 'totp', serialPrefix: 'TOTP-', serialStart: 1 }, nodeRng);
  hotpSeeds[0]!.user = 'tf-alice';
  await exportSeeds([...hotpSeeds, ...totpSeeds], { format: 'pam-oath', file: usersFile });
  if (canUsePam) {
    pam.install();
  }
});
afterAll(() => {
  pam.remove();
  tmp.cleanup();
});

const pamAuth = (user: string, code: string) => pam.auth(user, code);

describe('pam_oath users file', () => {
  it('is written 0600 in the users-file syntax liboath reads', () => {
    expect(statSync(usersFile).mode & 0o777).toBe(0o600);
    const lines = readFileSync(usersFile, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^# /);
    expect(lines.slice(1).map((l) => l.split('\t').filter((_, i) => i !== 3))).toEqual([
      ['HOTP/E/6', 'tf-alice', '-', '5'],
      ['HOTP/E/8', 'HOTP-00000002', '-', '5'],
      ['HOTP/T30/6', 'TOTP-00000001', '-', '0'],
    ]);
  });

  it('oathtool computes the same codes from the exported keys', async () => {
    const lines = readFileSync(usersFile, 'utf8').trim().split('\n').slice(1);
    const [h1, h2] = [lines[0]!.split('\t')[3]!, lines[1]!.split('\t')[3]!];
    const o1 = await run('oathtool', ['--hotp', '-c', '9', h1]);
    expect(o1.stdout.trim()).toBe(hotp(hotpSeeds[0]!.secret.exposeSecretBytes(), 9n));
    const o2 = await run('oathtool', ['--hotp', '-d', '8', '-c', '5', h2]);
    expect(o2.stdout.trim()).toBe(hotp(hotpSeeds[1]!.secret.exposeSecretBytes(), 5n, { digits: 8 }));
    const t = lines[2]!.split('\t')[3]!;
    const now = 2_000_000_000;
    const o3 = await run('oathtool', ['--totp', '-N', `@${now}`, t]);
    expect(o3.stdout.trim()).toBe(totp(totpSeeds[0]!.secret.exposeSecretBytes(), now));
  });

  it.skipIf(!canUsePam)('pamtester through pam_oath accepts our HOTP codes, refuses replays and wrong codes', async () => {
    const key = hotpSeeds[0]!.secret.exposeSecretBytes();
    const ok = await pamAuth('tf-alice', hotp(key, 8n));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).toMatch(/successfully authenticated/);
    const replay = await pamAuth('tf-alice', hotp(key, 8n));
    expect(replay.code).not.toBe(0);
    const wrongDigits = hotp(key, 9n) === '000000' ? '000001' : '000000';
    expect((await pamAuth('tf-alice', wrongDigits)).code).not.toBe(0);
    const eight = await pamAuth('HOTP-00000002', hotp(hotpSeeds[1]!.secret.exposeSecretBytes(), 5n, { digits: 8 }));
    expect(eight.code, eight.stderr).toBe(0);
    // pam_oath recorded the new counter in the file it owns now (still mode 0600).
    expect(readFileSync(usersFile, 'utf8')).toMatch(/HOTP\/E\/6\ttf-alice\t-\t[0-9a-f]+\t8\t/);
  });

  it.skipIf(!canUsePam)('pamtester through pam_oath accepts our TOTP code for now', async () => {
    const code = totp(totpSeeds[0]!.secret.exposeSecretBytes(), Math.floor(Date.now() / 1000));
    const r = await pamAuth('TOTP-00000001', code);
    expect(r.code, r.stderr).toBe(0);
  });

  it('records liboath cannot verify are refused with the reason', async () => {
    const [sha256] = generateSeeds(1, { type: 'totp', algorithm: 'SHA256' }, nodeRng);
    const [t45] = generateSeeds(1, { type: 'totp', periodSec: 45 }, nodeRng);
    const [d10] = generateSeeds(1, { digits: 10 }, nodeRng);
    const [ocra] = generateSeeds(1, { type: 'ocra', ocraSuite: 'OCRA-1:HOTP-SHA1-6:QN08' }, nodeRng);
    for (const [r, why] of [
      [sha256!, /only computes HMAC-SHA1/],
      [t45!, /30 or 60 s/],
      [d10!, /6, 7 or 8 digits/],
      [ocra!, /no OCRA/],
    ] as const) {
      await expect(exportSeeds([r], { format: 'pam-oath', file: join(tmp.dir, 'refused.oath') })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(why) });
    }
    const twice = generateSeeds(2, {}, nodeRng).map((r) => ({ ...r, user: 'same' }));
    await expect(exportSeeds(twice, { format: 'pam-oath', file: join(tmp.dir, 'refused.oath') })).rejects.toMatchObject({ message: expect.stringMatching(/appears twice/) });
    expect(() => statSync(join(tmp.dir, 'refused.oath'))).toThrow(); // nothing written
  });
});
