/**
 * `tokenforge demo` (what `npm start` runs): the whole job on the embedded defaults, with real parts.
 *
 *   1. a verifier on a SQLite file (master key generated 0600) listening on a real loopback socket;
 *   2. a small fleet of emulated tokens (hotp-fob and totp-60s-fob) on pseudo-terminals;
 *   3. two provisioning batches from generated seeds through the real serial path (TokenClient over the PTY,
 *      attestation, wrapped seeds, code check, lock), with the crash-safe journal, registering each token;
 *   4. users: button presses verified over HTTP; a replay refused; a token that was pressed while away accepted
 *      through the look-ahead; a year later, every TOTP token's crystal has drifted and the verifier accepts it
 *      (directly or by auto-resync with two consecutive codes) and learns its drift; a brute-force attempt
 *      throttled and then locked, a real code refused while locked, unlocked by the admin;
 *   5. an incident: the seed file of one batch leaks; one call revokes the batch; every token of it is refused,
 *      the other batch still works, and the audit log holds one entry for the bulk revocation;
 *   6. the audit chain checked.
 *
 * Time is virtual (a clock that moves only when the demo says so) and shared by the tokens and the verifier,
 * so with `--seed` a run is reproducible: same serials, same seeds, same codes. `--keep` leaves the verifier
 * and the tokens running for the other commands.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ptySupport, startSimulator, type Simulator } from '../../firmware-sim/host/runners.ts';
import { ManualClock } from '../../firmware-sim/clocks.ts';
import { CryptoRng } from '../../firmware-sim/host/system.ts';
import type { Rng as SimRng } from '../../firmware-sim/ports.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { Journal } from '../../provisioner/journal/index.ts';
import { runPipeline } from '../../provisioner/pipeline.ts';
import { createProgress, type BatchReport } from '../../provisioner/progress.ts';
import { createHttpRegistrar } from '../../provisioner/registrar.ts';
import { wipeSeeds } from '../../provisioner/seed.ts';
import { generateSeeds, nodeRng, type Rng as SeedRng } from '../../provisioner/sources/generate.ts';
import { clientSessionFactory, targetsFromDescriptors, type TargetDescriptor } from '../../provisioner/targets.ts';
import { createApiKey, verifyAuditChain } from '../../verifier/admin.ts';
import { startApp, type RunningApp } from '../../verifier/app.ts';
import { integer, optionalInteger, single } from '../flags.ts';
import { openapiText } from '../package-files.ts';
import { UsageError } from '../errors.ts';
import { createVerifierClient, type Answer, type VerifierClient } from '../verifier-client.ts';

/** The flags as yargs hands them over. */
interface Args {
  seed?: string;
  keep?: boolean;
  dir?: string;
  hotp: string;
  totp: string;
  port: string;
  json?: boolean;
}

/** What a demo run is told: the flags, parsed. */
interface DemoOptions {
  seed?: number;
  keep: boolean;
  dir?: string;
  hotp: number;
  totp: number;
  port: number;
}

function optionsOf(a: Args): DemoOptions {
  const seed = optionalInteger(a.seed, '--seed', { min: 0, max: 0xffffffff });
  const dir = single(a.dir, '--dir');
  return {
    ...(seed !== undefined ? { seed } : {}),
    keep: a.keep === true,
    ...(dir !== undefined ? { dir } : {}),
    hotp: integer(a.hotp, '--hotp', { min: 3, max: 64 }),
    totp: integer(a.totp, '--totp', { min: 3, max: 64 }),
    port: integer(a.port, '--port', { min: 0, max: 65535 }),
  };
}

/** One expectation of the demo: what was done, what the verifier answered, whether that is what it should. */
interface Check {
  act: string;
  serial: string;
  expected: string;
  got: string;
  ok: boolean;
  detail?: string;
}

const DAY_MS = 86_400_000;
/** Virtual time starts here: 2030-01-01T00:00:00Z, a step boundary for 30 s and 60 s steps. */
const START_MS = Date.UTC(2030, 0, 1);
const ADMIN_PIN = 'demo-admin-pin-2030';

interface VerifyAnswer {
  result: string;
  [k: string]: unknown;
}

/** The demo's view of the verifier: the CLI's admin client (cli/verifier-client.ts) and two shortcuts. */
class Api {
  readonly client: VerifierClient;

  constructor(url: string, key: string) {
    this.client = createVerifierClient({ url, apiKey: key });
  }

  call(method: string, path: string, body?: unknown): Promise<Answer> {
    return this.client.request(method, path, body);
  }

  async verify(serial: string, code: string): Promise<VerifyAnswer> {
    return (await this.call('POST', '/v1/verify', { serial, code })).json as VerifyAnswer;
  }

  async token(serial: string): Promise<Record<string, unknown>> {
    return (await this.call('GET', `/v1/tokens/${encodeURIComponent(serial)}`)).json['token'] as Record<string, unknown>;
  }
}

/** Seed bytes for generateSeeds from the simulator's seeded generator (reproducible) or the CSPRNG. */
function seedRngOf(seed: number | undefined): SeedRng {
  if (seed === undefined) return nodeRng;
  const r = new SeededRng(seed ^ 0x5eed);
  return (n) => {
    const out = new Uint8Array(n);
    r.fill(out);
    return out;
  };
}

async function provisionBatch(o: {
  name: string;
  dir: string;
  sim: Simulator;
  type: 'hotp' | 'totp';
  periodSec?: number;
  rng: SeedRng;
  app: RunningApp;
  adminKey: string;
  clock: ManualClock;
  /** Reproducible runs provision one token at a time, so seed i always goes to token i. */
  sequential: boolean;
}): Promise<BatchReport> {
  const seeds = generateSeeds(o.sim.tokens.length, { type: o.type, ...(o.periodSec ? { periodSec: o.periodSec } : {}), serialPrefix: 'DEMO', serialStart: 1n }, o.rng);
  const journal = Journal.create({ path: join(o.dir, `${o.name}.journal`), seeds, settings: { source: `generate ${seeds.length}`, slot: 0 }, key: { kind: 'file' } });
  wipeSeeds(seeds);
  try {
    const session = clientSessionFactory({ trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 5000, retries: 2 });
    const targets = targetsFromDescriptors(
      o.sim.tokens.map((t): TargetDescriptor => (t.path !== undefined ? { kind: 'port', path: t.path } : { kind: 'tcp', hostPort: `127.0.0.1:${t.port!}` })),
      session,
      { connectTimeoutMs: 5000 },
    );
    const progress = createProgress({ mode: 'plain', write: () => {}, columns: 100 });
    return await runPipeline({
      journal,
      targets,
      progress,
      adminPin: ADMIN_PIN,
      // The batch id is what the incident scene revokes the batch by.
      registrar: createHttpRegistrar({ url: o.app.url, apiKey: o.adminKey, batch: { batchId: o.name } }),
      now: () => o.clock.nowMs(),
      ...(o.sequential ? { concurrency: 1 } : {}),
    });
  } finally {
    journal.close();
  }
}

export async function runDemo(a: DemoOptions, say: (line: string) => void): Promise<{ checks: Check[]; failed: number; close: () => Promise<void>; endpoints: Record<string, unknown> }> {
  const started = Date.now();
  const dir = a.dir ? resolve(a.dir) : mkdtempSync(join(tmpdir(), 'tokenforge-demo-'));
  mkdirSync(dir, { recursive: true });
  const clock = new ManualClock(START_MS);
  const simRng: SimRng = a.seed !== undefined ? new SeededRng(a.seed) : new CryptoRng();
  const seedRng = seedRngOf(a.seed);
  const checks: Check[] = [];
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  const iso = (): string => new Date(clock.nowMs()).toISOString().replace('.000Z', 'Z');
  const check = (c: Check): void => {
    checks.push(c);
    say(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.act.padEnd(54)} ${c.serial.padEnd(12)} → ${c.got}${c.detail ? ` (${c.detail})` : ''}`);
  };

  try {
    say(`tokenforge demo${a.seed !== undefined ? ` --seed ${a.seed}` : ''}: work directory ${dir}`);

    // 1. The verifier.
    const logLines: string[] = [];
    const app = await startApp({
      db: join(dir, 'verifier.sqlite'),
      masterKeyFile: join(dir, 'master.key'),
      host: '127.0.0.1',
      port: a.port,
      openapi: openapiText(),
      log: (level, message) => void logLines.push(`${level} ${message}`),
      clock,
    });
    closers.push(() => app.close());
    const admin = await createApiKey(app.store, 'admin', 'demo', clock.nowMs());
    const api = new Api(app.url, admin.key);
    say(`\n[1/6] verifier    ${app.url}  (SQLite ${join(dir, 'verifier.sqlite')}, master key ${join(dir, 'master.key')} mode 0600)`);

    // 2. The tokens, on pseudo-terminals.
    // Where this machine has no PTY (no socat, and node-pty, an optional dependency, not built), TCP loopback.
    const link = ptySupport() !== null ? ('pty' as const) : ('tcp' as const);
    if (link === 'tcp') say('                  (no pseudo-terminal support here: install socat, or python3, make and g++ for node-pty; tokens on TCP loopback instead)');
    const common = { link, ...(link === 'tcp' ? { tcpPort: 0 } : {}), testMode: true, clock, rng: simRng };
    const hotpSim = await startSimulator({ ...common, count: a.hotp, profile: 'hotp-fob', stateDir: join(dir, 'tokens-hotp') });
    closers.push(() => hotpSim.close());
    const totpSim = await startSimulator({ ...common, count: a.totp, profile: 'totp-60s-fob', stateDir: join(dir, 'tokens-totp') });
    closers.push(() => totpSim.close());
    say(`[2/6] tokens      ${a.hotp} × hotp-fob on ${hotpSim.tokens.map((t) => t.path ?? `tcp://127.0.0.1:${t.port}`).join(' ')}`);
    say(`                  ${a.totp} × totp-60s-fob on ${totpSim.tokens.map((t) => t.path ?? `tcp://127.0.0.1:${t.port}`).join(' ')}`);

    // 3. Provisioning through the serial path, journaled, registered.
    for (const [name, sim, type, periodSec] of [
      ['batch-hotp', hotpSim, 'hotp', undefined],
      ['batch-totp', totpSim, 'totp', 60],
    ] as const) {
      const t0 = Date.now();
      const report = await provisionBatch({ name, dir, sim, type, ...(periodSec ? { periodSec } : {}), rng: seedRng, app, adminKey: admin.key, clock, sequential: a.seed !== undefined });
      const okCount = report.ok;
      say(`[3/6] provision   ${name}: ${okCount}/${report.total} tokens written, checked, locked and registered in ${Date.now() - t0} ms (journal ${name}.journal)`);
      for (const t of report.results) if (t.status !== 'ok') say(`        failed: ${t.target} ${t.code ?? ''} ${t.reason ?? ''}`);
      check({ act: `provision ${name}`, serial: '-', expected: `${sim.tokens.length} ok`, got: `${okCount} ok`, ok: okCount === sim.tokens.length });
    }

    // 4. Users. The tokens reach them the next morning (the time step of each provisioning check is used up
    // in the verifier, so a code from that minute would be refused as a replay).
    clock.advance(DAY_MS + 8 * 3_600_000);
    say(`\n[4/6] users       (virtual time ${iso()}: the tokens have reached their users)`);
    const [h0, h1, h2] = hotpSim.tokens;
    for (const t of [...hotpSim.tokens, ...totpSim.tokens]) {
      const code = t.press();
      const r = await api.verify(t.serial, code);
      check({ act: `press, verify ${code}`, serial: t.serial, expected: 'ok', got: r.result, ok: r.result === 'ok' });
      if (t === h0) {
        const again = await api.verify(t.serial, code);
        check({ act: `replay ${code}`, serial: t.serial, expected: 'replayed', got: again.result, ok: again.result === 'replayed' });
      }
    }
    if (h1) {
      for (let i = 0; i < 4; i++) h1.press();
      const code = h1.press();
      const r = await api.verify(h1.serial, code);
      check({ act: `5 presses away from the desk, verify ${code}`, serial: h1.serial, expected: 'ok', got: r.result, ok: r.result === 'ok', detail: `look-ahead skipped ${String(r['skipped'])}` });
    }

    clock.advance(365 * DAY_MS);
    say(`\n      one year later (virtual time ${iso()}): crystals have drifted`);
    for (const t of totpSim.tokens) {
      const ppm = t.token.device.rtc.errorPpm();
      const offsetSec = (t.token.device.rtc.nowMs() - clock.nowMs()) / 1000;
      const code = t.press();
      let r = await api.verify(t.serial, code);
      let how = 'within the window';
      if (r.result !== 'ok') {
        clock.advance(60_000);
        const code2 = t.press();
        r = await api.verify(t.serial, code2);
        how = `auto-resync with the next code ${code2}`;
      }
      const drift = (await api.token(t.serial))['driftSteps'] ?? (await api.token(t.serial))['drift'];
      check({
        act: `press, verify after a year (${ppm >= 0 ? '+' : ''}${ppm.toFixed(1)} ppm, ${offsetSec >= 0 ? '+' : ''}${offsetSec.toFixed(0)} s)`,
        serial: t.serial,
        expected: 'ok',
        got: r.result,
        ok: r.result === 'ok',
        detail: `${how}; learned drift ${String(drift)} step(s)`,
      });
      clock.advance(60_000);
    }

    if (h2) {
      say(`\n      a brute-force attempt on ${h2.serial}`);
      let last: VerifyAnswer = { result: 'none' };
      let guesses = 0;
      let throttled = 0;
      for (let i = 0; i < 40 && last.result !== 'locked'; i++) {
        guesses++;
        last = await api.verify(h2.serial, String(100000 + ((i * 7919) % 900000)).padStart(6, '0'));
        if (last.result === 'locked' && (last as { reason?: string }).reason === 'backoff') {
          throttled++;
          clock.advance(Number(last['retryAfterMs'] ?? 1000));
          last = { result: 'throttled' };
        }
      }
      const info = await api.token(h2.serial);
      check({ act: `${guesses} wrong guesses (${throttled} throttled)`, serial: h2.serial, expected: 'locked', got: last.result, ok: last.result === 'locked', detail: `failCount ${String(info['failCount'])}, state ${String(info['state'])}` });
      const real = h2.press();
      const r = await api.verify(h2.serial, real);
      check({ act: `the owner's real code ${real} while locked`, serial: h2.serial, expected: 'locked', got: r.result, ok: r.result === 'locked' });
      const unlock = await api.call('POST', `/v1/tokens/${h2.serial}/unlock`, {});
      const after = await api.verify(h2.serial, h2.press());
      check({ act: 'admin unlock, then a fresh code', serial: h2.serial, expected: 'ok', got: after.result, ok: unlock.status === 200 && after.result === 'ok' });
    }

    // 5. The incident: one batch's seed file leaks. One call revokes the batch, atomically; from then on no code
    // of it verifies (an attacker holding the leaked seeds computes exactly what the tokens show), while the
    // other batch keeps working, and the audit log holds one entry for the whole operation.
    const leaked = 'batch-hotp';
    say(`\n[5/6] incident    the seed file of ${leaked} has leaked: every token of it must stop working now`);
    say(`      $ tokenforge verifier batch revoke ${leaked} --reason "vendor seed file leaked"`);
    const headBefore = (await app.store.auditHead()).seq;
    const bulk = await api.call('POST', '/v1/tokens:bulk', { action: 'revoke', filter: { batch: leaked }, reason: 'vendor seed file leaked' });
    const headAfter = (await app.store.auditHead()).seq;
    check({
      act: `revoke batch ${leaked} in one call`,
      serial: '-',
      expected: `${hotpSim.tokens.length} revoked`,
      got: bulk.status === 200 ? `${String(bulk.json['changed'])} revoked` : `HTTP ${bulk.status}`,
      ok: bulk.status === 200 && bulk.json['changed'] === hotpSim.tokens.length,
    });
    for (const t of hotpSim.tokens) {
      const code = t.press();
      const r = await api.verify(t.serial, code);
      check({ act: `a code of the leaked batch, ${code}`, serial: t.serial, expected: 'disabled', got: r.result, ok: r.result === 'disabled' });
    }
    clock.advance(60_000);
    for (const t of totpSim.tokens) {
      const code = t.press();
      const r = await api.verify(t.serial, code);
      check({ act: `the other batch still works, verify ${code}`, serial: t.serial, expected: 'ok', got: r.result, ok: r.result === 'ok' });
    }
    const entries = (((await api.call('GET', `/v1/audit?after=${headBefore}&limit=100`)).json['entries'] ?? []) as { seq: number; action: string; detail: Record<string, unknown> }[]).filter(
      (e) => e.seq <= headAfter,
    );
    const only = entries[0];
    check({
      act: 'the audit log shows the revocation',
      serial: '-',
      expected: '1 bulk entry',
      got: `${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`,
      ok: entries.length === 1,
      ...(only ? { detail: `${only.action} ${JSON.stringify(only.detail)}` } : {}),
    });

    // 6. The audit chain.
    const chain = await verifyAuditChain(app.store);
    const chainOk = (chain as { ok?: boolean }).ok !== false;
    say(`\n[6/6] audit       ${JSON.stringify(chain)}`);
    check({ act: 'audit hash chain', serial: '-', expected: 'intact', got: chainOk ? 'intact' : 'broken', ok: chainOk });

    const failed = checks.filter((c) => !c.ok).length;
    say(`\nsummary: ${checks.length - failed}/${checks.length} checks as expected, ${a.hotp + a.totp} tokens, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const endpoints = { verifier: app.url, adminApiKey: admin.key, dir, hotp: hotpSim.tokens.map((t) => t.path), totp: totpSim.tokens.map((t) => t.path) };
    return {
      checks,
      failed,
      endpoints,
      close: async () => {
        await close();
        if (!a.dir && !a.keep) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

async function handler(a: Args): Promise<void> {
  const options = optionsOf(a);
  const lines: string[] = [];
  const say = a.json ? (l: string) => void lines.push(l) : (l: string) => void process.stdout.write(l + '\n');
  const demo = await runDemo(options, say);
  if (a.json) process.stdout.write(JSON.stringify({ checks: demo.checks, failed: demo.failed, endpoints: options.keep ? demo.endpoints : undefined }) + '\n');
  if (options.keep) {
    const e = demo.endpoints;
    process.stdout.write(
      `\nStill running (Ctrl-C to stop):\n  verifier  ${String(e['verifier'])}\n  API key   ${String(e['adminApiKey'])}  (admin; demo only)\n` +
        `  tokens    ${[...(e['hotp'] as string[]), ...(e['totp'] as string[])].join(' ')}\n  try       tokenforge device info --port ${(e['hotp'] as string[])[0]}\n`,
    );
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
  }
  await demo.close();
  process.exitCode = demo.failed === 0 ? 0 : 1;
}

export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'Run the whole job end to end on the embedded defaults: verifier (SQLite), emulated tokens on PTYs, provisioning, users',
  builder: (y: Argv) =>
    y
      .option('seed', { type: 'string', describe: 'Make the run reproducible: same serials, seeds and codes (virtual time always starts at 2030-01-01)' })
      .option('keep', { type: 'boolean', describe: 'Leave the verifier and the tokens running after the demo (Ctrl-C stops them)' })
      .option('dir', { type: 'string', describe: 'Work directory for the verifier database, master key, journals and token state (default: a temporary one, removed at the end)' })
      .option('hotp', { type: 'string', default: '3', describe: 'Number of hotp-fob tokens (3..64)' })
      .option('totp', { type: 'string', default: '3', describe: 'Number of totp-60s-fob tokens (3..64)' })
      .option('port', { type: 'string', default: '0', describe: 'Verifier port (0 picks a free one)' })
      .option('json', { type: 'boolean', describe: 'Print one JSON object with every check instead of the narrative' })
      .example('$0 demo', 'The five-minute tour (what npm start runs)')
      .example('$0 demo --seed 7', 'A reproducible run')
      .example('$0 demo --keep --dir ./demo', 'Keep the verifier and tokens running to try the other commands') as unknown as Argv<Args>,
  handler,
};
