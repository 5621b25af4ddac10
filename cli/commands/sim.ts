/**
 * `tokenforge sim ...`: the firmware simulator (firmware-sim/; docs/simulator.md).
 *
 *   sim serve (--pty [--link PATH] | --tcp PORT) [--count N] [--profile NAME] [--state DIR] [--test-mode]
 *             [--time real|virtual] [fault flags]     serve N tokens; prints one device path / URL per line
 *   sim press --state DIR [--slot S] [--times N]      press the button of a stored token; prints the display
 *   sim fleet --count N --days D --profile P [--json] simulate a fleet in virtual time; drift report
 *   sim profiles                                      list the device profiles
 *
 * Bad flags and values exit 2; runtime failures (socat missing, port in use, unreadable state) exit 1.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { SimError } from '../../firmware-sim/errors.ts';
import { checkFaults, parseClockJump, type Faults } from '../../firmware-sim/faults.ts';
import { simulateFleet, type FleetReport } from '../../firmware-sim/fleet.ts';
import { startSimulator } from '../../firmware-sim/host/runners.ts';
import { SimToken } from '../../firmware-sim/host/sim-token.ts';
import { CryptoRng, SystemClock } from '../../firmware-sim/host/system.ts';
import type { Log } from '../../firmware-sim/ports.ts';
import { SeededRng } from '../../firmware-sim/seeded-rng.ts';
import { loadProfile, profileNames } from '../../firmware-sim/profiles.ts';
import { UsageError } from '../errors.ts';
import { list, optionalInteger, optionalNumber, single } from '../flags.ts';

/** SimError INVALID_* codes are the user's input: exit 2 with the same message. */
async function asInput<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof SimError && (e.code === 'INVALID_ARGUMENT' || e.code === 'INVALID_PROFILE')) throw new UsageError(e.message);
    throw e;
  }
}


function profileOpt(v: unknown): string {
  const name = single(v, '--profile') ?? 'hotp-fob';
  if (!profileNames().includes(name)) throw new UsageError(`--profile: "${name.slice(0, 40)}" is not a profile; choose one of ${profileNames().join(', ')}`);
  return name;
}

const stderrLog = (verbose: boolean): Log => ({
  log(level, message) {
    if (verbose || level !== 'debug') process.stderr.write(`sim: ${level}: ${message}\n`);
  },
});

interface ServeArgs {
  pty?: boolean;
  link?: string;
  tcp?: string;
  host?: string;
  count?: string;
  profile?: string;
  state?: string;
  'test-mode'?: boolean;
  time?: string;
  'time-scale'?: string;
  'start-time'?: string;
  'power-cut-at'?: string;
  torn?: boolean;
  'reboot-after-ms'?: string;
  'drop-rate'?: string;
  'corrupt-rate'?: string;
  'delay-ms'?: string;
  'clock-jump'?: string | string[];
  'brown-out-at'?: string;
  seed?: string;
  'first-serial'?: string;
  verbose?: boolean;
}

async function serve(a: ServeArgs): Promise<void> {
  if (!a.pty && a.tcp === undefined) throw new UsageError('sim serve: give --pty (a pseudo-terminal per token) or --tcp PORT');
  if (a.pty && a.tcp !== undefined) throw new UsageError('sim serve: give --pty or --tcp, not both');
  if (a.link !== undefined && !a.pty) throw new UsageError('--link: only with --pty');
  const count = optionalInteger(a.count, '--count', { min: 1, max: 1000 }) ?? 1;
  const profile = profileOpt(a.profile);
  const tcpPort = optionalInteger(a.tcp, '--tcp', { min: 0, max: 65535 });
  if (tcpPort !== undefined && tcpPort !== 0 && tcpPort + count - 1 > 65535) throw new UsageError(`--tcp: ports ${tcpPort}..${tcpPort + count - 1} run past 65535`);
  const time = single(a.time, '--time') ?? 'real';
  if (time !== 'real' && time !== 'virtual') throw new UsageError(`--time: "${time}" must be real or virtual`);
  const timeScale = optionalNumber(a['time-scale'], '--time-scale', { min: 0.001, max: 1e9 });
  if (timeScale !== undefined && time !== 'virtual') throw new UsageError('--time-scale: only with --time virtual');
  let startMs: number | undefined;
  const s = single(a['start-time'], '--start-time');
  if (s !== undefined) {
    if (time !== 'virtual') throw new UsageError('--start-time: only with --time virtual');
    startMs = /^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s);
    if (!Number.isFinite(startMs)) throw new UsageError(`--start-time: "${s.slice(0, 40)}" must be Unix seconds or an ISO date`);
  }
  const jumps = list(a['clock-jump']);
  const faults: Faults = await asInput(() => {
    const f: Faults = {};
    const cut = optionalInteger(a['power-cut-at'], '--power-cut-at', { min: 0, max: 1e9 });
    if (cut !== undefined) f.powerCutAtOp = cut;
    if (a.torn) {
      if (cut === undefined) throw new UsageError('--torn: only with --power-cut-at');
      f.tornWrite = true;
    }
    const reboot = optionalInteger(a['reboot-after-ms'], '--reboot-after-ms', { min: 0, max: 3_600_000 });
    if (reboot !== undefined) f.rebootAfterMs = reboot;
    const drop = optionalNumber(a['drop-rate'], '--drop-rate', { min: 0, max: 1 });
    if (drop !== undefined) f.dropRate = drop;
    const corrupt = optionalNumber(a['corrupt-rate'], '--corrupt-rate', { min: 0, max: 1 });
    if (corrupt !== undefined) f.corruptRate = corrupt;
    const delay = optionalInteger(a['delay-ms'], '--delay-ms', { min: 0, max: 60_000 });
    if (delay !== undefined) f.responseDelayMs = delay;
    const bo = optionalInteger(a['brown-out-at'], '--brown-out-at', { min: 0, max: 1e9 });
    if (bo !== undefined) f.brownOutAtSec = bo;
    if (jumps.length) f.clockJumps = jumps.map((j) => parseClockJump(String(j))).sort((x, y) => x.atSec - y.atSec);
    return checkFaults(f);
  });
  const seed = optionalInteger(a.seed, '--seed', { min: 0, max: 0xffffffff });
  const firstSerial = optionalInteger(a['first-serial'], '--first-serial', { min: 0, max: 99_999_999 });
  const log = stderrLog(a.verbose ?? false);
  const sim = await asInput(() =>
    startSimulator({
      link: a.pty ? 'pty' : 'tcp',
      count,
      profile,
      ...(a.link !== undefined ? { linkPath: a.link } : {}),
      ...(tcpPort !== undefined ? { tcpPort } : {}),
      ...(a.host !== undefined ? { tcpHost: a.host } : {}),
      ...(a.state !== undefined ? { stateDir: a.state } : {}),
      testMode: a['test-mode'] ?? false,
      time,
      ...(startMs !== undefined ? { virtualStartMs: startMs } : {}),
      ...(timeScale !== undefined ? { timeScale } : {}),
      rng: seed !== undefined ? new SeededRng(seed) : new CryptoRng(),
      ...(firstSerial !== undefined ? { firstSerialSeq: firstSerial } : {}),
      faults,
      log,
    }),
  );
  for (const e of sim.endpoints()) process.stdout.write(`${e}\n`);
  for (const t of sim.tokens) process.stderr.write(`sim: token ${t.index}: ${profile} serial ${t.serial} at ${sim.endpoints()[t.index]}\n`);
  process.stderr.write(`sim: serving ${count} token(s); SIGUSR1 presses the button of every token waiting for it; Ctrl-C stops and saves state\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`sim: ${sig}: stopping${a.state ? ` and saving state in ${a.state}` : ''}\n`);
      sim.close().then(resolve, (e: unknown) => {
        process.stderr.write(`sim: error while stopping: ${(e as Error).message}\n`);
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGUSR1', () => {
      for (const t of sim.tokens) if (t.token.device.waitingForPress) process.stderr.write(`sim: token ${t.index}: pressed, display ${JSON.stringify(t.press())}\n`);
    });
  });
  process.removeAllListeners('SIGUSR1');
}

interface PressArgs {
  state?: string;
  slot?: string;
  times?: string;
  json?: boolean;
}

function tokenDirOf(state: string): string {
  let dir = state;
  if (existsSync(state) && statSync(state).isFile()) dir = dirname(state);
  if (!existsSync(join(dir, 'token.json'))) {
    if (existsSync(join(dir, 'token-0', 'token.json'))) {
      throw new UsageError(`--state: ${state} holds several tokens; name one, e.g. --state ${join(dir, 'token-0')}`);
    }
    throw new UsageError(`--state: ${state} is not a simulated token's state (no token.json); create one with tokenforge sim serve --state DIR`);
  }
  return dir;
}

async function press(a: PressArgs): Promise<void> {
  const state = single(a.state, '--state');
  if (state === undefined) throw new UsageError('--state: required; the directory of a token (DIR/token-N from sim serve --state DIR)');
  const dir = tokenDirOf(state);
  const slot = optionalInteger(a.slot, '--slot', { min: 0, max: 254 });
  const times = optionalInteger(a.times, '--times', { min: 1, max: 100_000 }) ?? 1;
  let meta: { profile: string; serialSeq: number };
  try {
    meta = JSON.parse(readFileSync(join(dir, 'token.json'), 'utf8')) as { profile: string; serialSeq: number };
  } catch (e) {
    throw new SimError('STATE', `--state: cannot read ${join(dir, 'token.json')} (${(e as Error).message})`);
  }
  const token = await asInput(() => new SimToken({ profile: meta.profile, stateDir: dir, serialSeq: meta.serialSeq, clock: new SystemClock() }));
  try {
    const shown: string[] = [];
    for (let i = 0; i < times; i++) shown.push(token.press(slot));
    if (a.json) process.stdout.write(`${JSON.stringify({ serial: token.serial, profile: meta.profile, display: shown })}\n`);
    else for (const s of shown) process.stdout.write(`${s}\n`);
  } finally {
    token.close();
  }
}

interface FleetArgs {
  count?: string;
  days?: string;
  profile?: string;
  json?: boolean;
  seed?: string;
  'bucket-days'?: string;
  window?: string;
  'look-ahead'?: string;
  'no-temperature'?: boolean;
}

function fleetText(r: FleetReport): string {
  const totp = r.kind === 'totp';
  const lines = [
    totp
      ? `fleet: ${r.count} x ${r.profile}, ${r.days} days, one press a day; verifier window ±${r.window} step(s), plain vs drift-tracking`
      : `fleet: ${r.count} x ${r.profile}, ${r.days} days, one press a day (some unused); verifier look-ahead ${r.lookAhead}`,
    '',
    totp
      ? `days        alive  outside±${r.window}  max|offset|  accepted±${r.window}  accepted(drift-tracking)  brown-outs`
      : 'days        alive  beyond-look-ahead  max-lead   accepted  brown-outs',
  ];
  for (const b of r.buckets) {
    const days = `${String(b.fromDay).padStart(4)}-${String(b.toDay - 1).padEnd(5)} ${String(b.alive).padStart(7)}`;
    lines.push(
      totp
        ? `${days} ${String(b.outside).padStart(10)} ${b.maxOffsetSteps.toFixed(2).padStart(12)} ${(100 * b.acceptedPlain).toFixed(2).padStart(10)}% ${(100 * b.acceptedTracking).toFixed(2).padStart(24)}% ${String(b.brownOuts).padStart(11)}`
        : `${days} ${String(b.outside).padStart(18)} ${String(b.maxOffsetSteps).padStart(10)} ${(100 * b.acceptedPlain).toFixed(2).padStart(9)}% ${String(b.brownOuts).padStart(11)}`,
    );
  }
  const t = r.totals;
  const pct = (n: number) => ((100 * n) / Math.max(1, t.submitted)).toFixed(2);
  lines.push(
    '',
    `total: ${t.presses} presses, ${t.submitted} codes submitted, accepted ${totp ? `${pct(t.acceptedPlain)}% (±${r.window}) vs ${pct(t.acceptedTracking)}% (drift tracking)` : `${pct(t.acceptedPlain)}%`}; ${t.brownOuts} brown-outs, ${t.deadBatteries} dead batteries; ${t.hmacs} HMACs in ${((r.elapsedMs ?? 0) / 1000).toFixed(2)} s`,
  );
  return lines.join('\n') + '\n';
}

async function fleet(a: FleetArgs): Promise<void> {
  const count = optionalInteger(a.count, '--count', { min: 1, max: 1_000_000 });
  const days = optionalInteger(a.days, '--days', { min: 1, max: 36_500 });
  if (count === undefined) throw new UsageError('--count: required (number of tokens)');
  if (days === undefined) throw new UsageError('--days: required (simulated days)');
  const profile = await asInput(() => loadProfile(profileOpt(a.profile)));
  const bucketDays = optionalInteger(a['bucket-days'], '--bucket-days', { min: 1, max: 36_500 });
  const window = optionalInteger(a.window, '--window', { min: 0, max: 100 });
  const lookAhead = optionalInteger(a['look-ahead'], '--look-ahead', { min: 0, max: 1000 });
  const seed = optionalInteger(a.seed, '--seed', { min: 0, max: 0xffffffff }) ?? 1;
  const t0 = performance.now();
  const r = simulateFleet({
    count,
    days,
    profile,
    rng: new SeededRng(seed),
    ...(bucketDays !== undefined ? { bucketDays } : {}),
    ...(window !== undefined ? { window } : {}),
    ...(lookAhead !== undefined ? { lookAhead } : {}),
    temperature: !a['no-temperature'],
  });
  r.elapsedMs = Math.round(performance.now() - t0);
  process.stdout.write(a.json ? `${JSON.stringify(r, null, 2)}\n` : fleetText(r));
}

export const simCommand: CommandModule<object, object> = {
  command: 'sim <command>',
  describe: 'Firmware simulator: serve emulated tokens on PTYs or TCP, press buttons, simulate fleets',
  builder: (y: Argv) =>
    y
      .command({
        command: 'serve',
        describe: 'Serve simulated tokens; prints one device path (PTY) or tcp:// URL per line, runs until SIGINT/SIGTERM',
        builder: (b: Argv) =>
          b
            .option('pty', { type: 'boolean', describe: 'create a pseudo-terminal per token (through socat when installed, else in-process via node-pty); open the printed path with any serial tool' })
            .option('link', { type: 'string', describe: 'with --pty: also create this symlink to the PTY (PATH-0, PATH-1, ... with --count > 1)' })
            .option('tcp', { type: 'string', describe: 'listen on TCP PORT instead (tokens on consecutive ports; 0 = any free port each)' })
            .option('host', { type: 'string', describe: 'with --tcp: address to bind (default 127.0.0.1)' })
            .option('count', { type: 'string', describe: 'number of tokens (default 1)' })
            .option('profile', { type: 'string', describe: `device profile: ${profileNames().join(', ')} (default hotp-fob)` })
            .option('state', { type: 'string', describe: 'state directory: token N keeps its flash image, RTC and sealing key in DIR/token-N across restarts' })
            .option('test-mode', { type: 'boolean', describe: 'calculate and reset without a button press (CI, bench fixtures)' })
            .option('time', { type: 'string', describe: 'real (wall clock, default) or virtual (--start-time, --time-scale)' })
            .option('time-scale', { type: 'string', describe: 'with --time virtual: how many times faster than real time (e.g. 3600 = an hour per second)' })
            .option('start-time', { type: 'string', describe: 'with --time virtual: start at Unix seconds or an ISO date' })
            .option('power-cut-at', { type: 'string', describe: 'fault: cut the power at the Nth flash operation after start (the token reboots after --reboot-after-ms)' })
            .option('torn', { type: 'boolean', describe: 'fault: with --power-cut-at, leave the interrupted word or erase half done' })
            .option('reboot-after-ms', { type: 'string', describe: 'fault: power returns after this many ms (default 200; 0 = stays off)' })
            .option('drop-rate', { type: 'string', describe: 'fault: probability that a byte on the link is dropped (0..1)' })
            .option('corrupt-rate', { type: 'string', describe: 'fault: probability that a byte on the link gets a bit flipped (0..1)' })
            .option('delay-ms', { type: 'string', describe: 'fault: delay every answer by this many ms' })
            .option('clock-jump', { type: 'string', describe: 'fault: SEC@AT moves the RTC by SEC seconds AT seconds after start (repeatable), e.g. 3600@10' })
            .option('brown-out-at', { type: 'string', describe: 'fault: battery brown-out SEC seconds after start: the RTC restarts at 1970 and is invalid until SET_TIME' })
            .option('seed', { type: 'string', describe: 'seed the RNG (device keys, serial digits, faults) for a reproducible run; NOT for real keys' })
            .option('first-serial', { type: 'string', describe: "serial sequence number of the first token (default random, so that runs do not repeat serials); ignored for tokens whose --state already exists" })
            .option('verbose', { type: 'boolean', describe: 'log firmware debug messages on stderr' })
            .example('$0 sim serve --pty --count 4 --profile totp-60s-fob --state ./tokens', 'four key fobs on four PTYs, kept in ./tokens')
            .example('$0 sim serve --tcp 7000 --test-mode', 'one HOTP fob on tcp://127.0.0.1:7000 that calculates without a press'),
        handler: (argv) => serve(argv as ServeArgs),
      })
      .command({
        command: 'press',
        describe: "Press the button of a stored token and print what its display shows (one line per press)",
        builder: (b: Argv) =>
          b
            .option('state', { type: 'string', describe: 'the token directory (DIR/token-N of sim serve --state DIR) or its flash.img' })
            .option('slot', { type: 'string', describe: 'slot to calculate (default: the default slot, else the first used one)' })
            .option('times', { type: 'string', describe: 'number of presses (default 1)' })
            .option('json', { type: 'boolean', describe: 'print {serial, profile, display: [...]} as JSON' })
            .example('$0 sim press --state ./tokens/token-0 --times 3', 'three HOTP codes, counter persisted before each is shown'),
        handler: (argv) => press(argv as PressArgs),
      })
      .command({
        command: 'fleet',
        describe: 'Simulate a fleet in virtual time: daily presses, crystal drift, temperature, battery; per-bucket report',
        builder: (b: Argv) =>
          b
            .option('count', { type: 'string', describe: 'number of tokens (required)' })
            .option('days', { type: 'string', describe: 'simulated days (required)' })
            .option('profile', { type: 'string', describe: `device profile: ${profileNames().join(', ')} (default hotp-fob)` })
            .option('json', { type: 'boolean', describe: 'print the report as JSON' })
            .option('seed', { type: 'string', describe: 'RNG seed (default 1): same seed, same fleet, same report' })
            .option('bucket-days', { type: 'string', describe: 'days per report line (default: days/12)' })
            .option('window', { type: 'string', describe: 'TOTP verifier window in steps either side (default 1)' })
            .option('look-ahead', { type: 'string', describe: 'HOTP verifier look-ahead (default 10)' })
            .option('no-temperature', { type: 'boolean', describe: 'keep every token at 25 °C (no seasonal crystal error)' })
            .example('$0 sim fleet --count 10000 --days 365 --profile totp-60s-fob', 'a year of a 10,000-fob fleet'),
        handler: (argv) => fleet(argv as FleetArgs),
      })
      .command({
        command: 'profiles',
        describe: 'List the device profiles',
        builder: (b: Argv) => b.option('json', { type: 'boolean', describe: 'print the profiles as JSON' }),
        handler: (argv) => {
          const ps = profileNames().map((n) => loadProfile(n));
          if ((argv as { json?: boolean }).json) process.stdout.write(`${JSON.stringify(ps, null, 2)}\n`);
          else for (const p of ps) process.stdout.write(`${p.name.padEnd(16)} ${p.description}\n`);
        },
      })
      .demandCommand(1, 'Name a sim command: serve, press, fleet or profiles (see tokenforge sim --help).')
      .strict(),
  handler: () => {},
};

