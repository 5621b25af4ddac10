/**
 * The simulator on real links: the transport conformance suite (conformance/suites/transport.ts) over a real
 * PTY (socat, opened by node-serialport) and over TCP; and the `tokenforge sim` CLI as a real process —
 * serve prints its device path, a client provisions through it, SIGTERM saves state, `sim press` continues
 * the same counter; codes equal oathtool's.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { runTransportCases } from '../../conformance/suites/transport.ts';
import { TokenClient } from '../../protocol/client.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { openTransport } from '../../protocol/links/open.ts';
import type { FramedTransport } from '../../protocol/framed-transport.ts';
import { startSimulator } from '../../firmware-sim/host/runners.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { builtCli } from '../../tools/build.ts';

const root = resolve(import.meta.dirname, '../..');
const bin = builtCli(root);
const dir = mkdtempSync(join(tmpdir(), 'tf-simlink-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const seedHex = '3132333435363738393031323334353637383930';

describe('transport conformance against the simulator', () => {
  it('passes every case over a real PTY', async () => {
    const sim = await startSimulator({ link: 'pty', profile: 'hotp-fob', rng: new SeededRng(11) });
    const t = (await openTransport(sim.tokens[0]!.path!)) as FramedTransport;
    try {
      expect(sim.tokens[0]!.path).toMatch(/^\/dev\/pts\/\d+$/);
      const results = await runTransportCases(t, { timeoutMs: 1500 });
      expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
      expect(results.length).toBeGreaterThanOrEqual(29);
    } finally {
      await t.close();
      await sim.close();
    }
  }, 120_000);

  it('passes every case over a PTY opened in-process by node-pty (no socat), also after the host reopens it', async () => {
    const link = join(dir, 'nodepty-token');
    const sim = await startSimulator({ link: 'pty', ptyBackend: 'node-pty', linkPath: link, profile: 'hotp-fob', rng: new SeededRng(13) });
    try {
      expect(sim.tokens[0]!.path).toBe(link);
      for (let round = 0; round < 2; round++) {
        const t = (await openTransport(link)) as FramedTransport;
        try {
          const results = await runTransportCases(t, { timeoutMs: 1500 });
          expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
        } finally {
          await t.close();
        }
      }
    } finally {
      await sim.close();
    }
  }, 120_000);

  it('passes every case over TCP', async () => {
    const sim = await startSimulator({ link: 'tcp', tcpPort: 0, profile: 'multi-slot-key', rng: new SeededRng(12) });
    const t = (await openTransport(`tcp://127.0.0.1:${sim.tokens[0]!.port}`)) as FramedTransport;
    try {
      const results = await runTransportCases(t, { timeoutMs: 1500 });
      expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
    } finally {
      await t.close();
      await sim.close();
    }
  }, 120_000);
});

function serveProcess(args: string[]): Promise<{ child: ChildProcess; endpoints: string[] }> {
  const child = spawn(process.execPath, [bin, 'sim', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const want = Number(args[args.indexOf('--count') + 1] ?? 1) || 1;
  return new Promise((res, rej) => {
    const endpoints: string[] = [];
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      endpoints.push(l);
      if (endpoints.length === want) res({ child, endpoints });
    });
    child.once('exit', (code) => rej(new Error(`sim serve exited ${code}: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
}

describe('tokenforge sim (real process)', () => {
  it('serve --pty --count 2 prints two device paths; provisioning works; SIGTERM saves; sim press continues the counter', async () => {
    const state = join(dir, 'tokens');
    const link = join(dir, 'fob');
    const { child, endpoints } = await serveProcess(['--pty', '--link', link, '--count', '2', '--state', state, '--test-mode']);
    expect(endpoints).toEqual([`${link}-0`, `${link}-1`]);
    const client = await TokenClient.open(await openTransport(endpoints[0]!), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 3000 });
    await client.authenticate('246810');
    await client.putSlot({ slot: 0, touch: 'always', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, Buffer.from(seedHex, 'hex'));
    const c0 = (await client.calculate(0)).code;
    await client.close();
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    const expected = execFileSync('oathtool', ['--hotp', '-c', '0', '-w', '2', seedHex], { encoding: 'utf8' }).trim().split('\n');
    expect(c0).toBe(expected[0]);
    const pressed = spawnSync(process.execPath, [bin, 'sim', 'press', '--state', join(state, 'token-0'), '--times', '2'], { encoding: 'utf8' });
    expect(pressed.status).toBe(0);
    expect(pressed.stdout.trim().split('\n')).toEqual(expected.slice(1));
    // the second token is still in FACTORY state: a press shows that it has no seed
    const empty = spawnSync(process.execPath, [bin, 'sim', 'press', '--state', join(state, 'token-1'), '--json'], { encoding: 'utf8' });
    expect(JSON.parse(empty.stdout)).toMatchObject({ profile: 'hotp-fob', display: ['-noSEEd-'] });
  }, 60_000);

  it('serve --tcp 0 prints a tcp:// URL that answers GET_INFO, and stops on SIGINT', async () => {
    const { child, endpoints } = await serveProcess(['--tcp', '0', '--profile', 'totp-60s-fob']);
    expect(endpoints[0]).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const client = await TokenClient.open(await openTransport(endpoints[0]!), { timeoutMs: 3000 });
    const info = await client.info();
    expect(info.model).toBe('TF-FOB60');
    expect(info.rtcTimeSec).toBeDefined();
    await client.close();
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  }, 60_000);

  it('without --test-mode a touch slot waits for the button; SIGUSR1 presses it', async () => {
    const { child, endpoints } = await serveProcess(['--tcp', '0', '--first-serial', '4242']);
    const client = await TokenClient.open(await openTransport(endpoints[0]!), { trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 3000, userPresenceTimeoutMs: 20_000 });
    expect((await client.info()).serial).toBe('H1000042422'); // H1 + 00004242 + Luhn over 100004242: 4+4+4+4+2 = 18 -> 2
    await client.authenticate('97531');
    await client.putSlot({ slot: 0, touch: 'always', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 7n } }, Buffer.from(seedHex, 'hex'));
    const pending = client.calculate(0);
    const poke = setInterval(() => child.kill('SIGUSR1'), 700);
    try {
      const r = await pending;
      expect(r.code).toBe(execFileSync('oathtool', ['--hotp', '-c', '7', seedHex], { encoding: 'utf8' }).trim());
    } finally {
      clearInterval(poke);
    }
    await client.close();
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  }, 60_000);

  it('fleet --json reports buckets; the same seed gives the same report', () => {
    const run = () => spawnSync(process.execPath, [bin, 'sim', 'fleet', '--count', '200', '--days', '120', '--profile', 'totp-60s-fob', '--bucket-days', '30', '--json', '--seed', '9'], { encoding: 'utf8' });
    const a = run();
    expect(a.status).toBe(0);
    const r = JSON.parse(a.stdout) as { buckets: { acceptedPlain: number; acceptedTracking: number; outside: number }[] };
    expect(r.buckets).toHaveLength(4);
    expect(r.buckets[3]!.acceptedTracking).toBeGreaterThan(r.buckets[3]!.acceptedPlain);
    expect(r.buckets[3]!.outside).toBeGreaterThan(r.buckets[0]!.outside);
    const b = JSON.parse(run().stdout) as { buckets: unknown };
    expect(b.buckets).toEqual(r.buckets);
  }, 60_000);

  const bad: [string, string[], RegExp][] = [
    ['serve without a link', ['serve'], /give --pty/],
    ['unknown profile', ['serve', '--pty', '--profile', 'nope'], /not a profile/],
    ['bad drop rate', ['serve', '--tcp', '0', '--drop-rate', '2'], /--drop-rate/],
    ['bad clock jump', ['serve', '--tcp', '0', '--clock-jump', 'soon'], /SEC@AT/],
    ['press without state', ['press'], /--state: required/],
    ['fleet with bad days', ['fleet', '--count', '3', '--days', 'x'], /--days/],
  ];
  for (const [name, args, re] of bad) {
    it(`exits 2 with one line for ${name}`, () => {
      const r = spawnSync(process.execPath, [bin, 'sim', ...args], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^tokenforge: error: /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    });
  }
});
