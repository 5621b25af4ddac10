/**
 * pam_oath interop: tokens provisioned by `tokenforge provision --export FILE --format pam-oath` (simulated
 * tokens served on PTYs by `tokenforge sim serve`) have their codes accepted by the real PAM stack —
 * `pamtester` through libpam-oath's pam_oath.so with the exported users file — for an HOTP token and a 60 s
 * TOTP token; a wrong code and a replayed code are refused. The PAM service file is created under /etc/pam.d
 * with a unique name and removed afterwards.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenClient } from '../../protocol/client.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { openTransport } from '../../protocol/links/open.ts';
import { runCli, startCli, stopChild } from './provision.helpers.ts';

const canRun = existsSync('/usr/bin/pamtester') && (existsSync('/lib/x86_64-linux-gnu/security/pam_oath.so') || existsSync('/usr/lib/x86_64-linux-gnu/security/pam_oath.so')) && process.getuid?.() === 0;

let dir: string;
const service = `tokenforge-test-${process.pid}-${Date.now()}`;
const servicePath = join('/etc/pam.d', service);
const sims: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tf-pam-'));
});
afterAll(async () => {
  for (const s of sims) await stopChild(s);
  rmSync(servicePath, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

async function serve(profile: string, count: number): Promise<string[]> {
  const re = new RegExp(`^((?:/dev/pts/\\d+\\n){${count}})`, 'm');
  const s = await startCli(['sim', 'serve', '--pty', '--count', String(count), '--profile', profile, '--state', join(dir, `sim-${profile}`), '--test-mode'], re);
  sims.push(s.child);
  return s.match[1]!.trim().split('\n');
}

/** The token computes its next code (CALCULATE over its PTY; test mode needs no button press). */
async function tokenCode(port: string): Promise<{ serial: string; code: string }> {
  const c = await TokenClient.open(await openTransport(port), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 5000 });
  try {
    const info = await c.info();
    const { code } = await c.calculate(0);
    return { serial: info.serial, code };
  } finally {
    await c.close();
  }
}

function pamtester(user: string, code: string): { ok: boolean; out: string } {
  const r = spawnSync('pamtester', [service, user, 'authenticate'], { input: `${code}\n`, encoding: 'utf8', timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!canRun)('pam_oath accepts the codes of tokens provisioned with --export --format pam-oath', () => {
  it('HOTP and 60 s TOTP tokens', async () => {
    const hotpPorts = await serve('hotp-fob', 2);
    const totpPorts = await serve('totp-60s-fob', 1);
    const users = join(dir, 'users.oath');
    const common = ['--trust-test-attestation', '--admin-pin', '135790', '--export', users, '--format', 'pam-oath'];
    const r1 = runCli(['provision', '--generate', '2', '--type', 'hotp', ...hotpPorts.flatMap((p) => ['--port', p]), '--journal', join(dir, 'h.journal'), ...common]);
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    expect(statSync(users).mode & 0o777).toBe(0o600);
    const lines1 = readFileSync(users, 'utf8').split('\n').filter((l) => l.startsWith('HOTP'));
    expect(lines1).toHaveLength(2);

    // The TOTP batch goes to another users file (an export is the finished tokens of its own journal).
    const usersT = join(dir, 'users-totp.oath');
    const r2 = runCli(['provision', '--generate', '1', '--type', 'totp', '--period', '60', '--port', totpPorts[0]!, '--journal', join(dir, 't.journal'), '--trust-test-attestation', '--admin-pin', '135790', '--export', usersT, '--format', 'pam-oath']);
    expect(r2.stderr).toBe('');
    expect(r2.status).toBe(0);
    expect(readFileSync(usersT, 'utf8')).toMatch(/^HOTP\/T60\/6\t/m);
    // One users file for PAM: both exports together.
    const combined = join(dir, 'combined.oath');
    writeFileSync(combined, readFileSync(users, 'utf8') + readFileSync(usersT, 'utf8'), { mode: 0o600 });
    writeFileSync(servicePath, `# tokenforge test service, removed by the test\nauth required pam_oath.so usersfile=${combined} window=20 digits=6\naccount required pam_permit.so\n`);

    for (const port of [...hotpPorts, ...totpPorts]) {
      const { serial, code } = await tokenCode(port);
      const bad = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      expect(pamtester(serial, bad).ok, `wrong code for ${serial} is refused`).toBe(false);
      const good = pamtester(serial, code);
      expect(good.ok, `pam_oath accepts ${serial}'s code: ${good.out}`).toBe(true);
      expect(pamtester(serial, code).ok, `replayed code for ${serial} is refused`).toBe(false);
    }
  }, 180_000);
});
