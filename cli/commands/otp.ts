/**
 * `tokenforge otp ...`: compute and check HOTP, TOTP and OCRA codes, and read or write otpauth:// URIs.
 *
 * Output follows oathtool where the two overlap (`hotp -w W` prints W+1 codes, one a line; `totp -w W` prints
 * the codes for steps T..T+W). Numbers (counters, times) are parsed as exact integers, never floats, so
 * counters up to 2^64-1 and times past 2038 and 2^53 work. Bad input is one line naming the argument and the
 * fix, exit 2.
 */
import type { Argv, CommandModule } from 'yargs';
import { bytesToHex, hexToBytes } from '../../otp/hex.ts';
import { createHotpEngine } from '../../otp/engine.ts';
import { TokenforgeError } from '../../otp/errors.ts';
import { ocra, ocraClientResponse, ocraServerResponse, ocraSignature, parseOcraSuite, type OcraInput } from '../../otp/ocra.ts';
import { MAX_COUNTER } from '../../otp/params.ts';
import { totpStep } from '../../otp/totp.ts';
import { formatOtpauthUri, parseOtpauthUri, type OtpauthKey } from '../../otp/uri.ts';
import { UsageError } from '../errors.ts';
import { bigInteger, digits as parseDigits, hashAlgorithm, list, optionalBigInteger, single } from '../flags.ts';
import { readIndirect, readKey, type KeyArgs } from '../key-input.ts';
import { writeCodeRanges } from '../code-output.ts';

const MAX_WINDOW = 10_000_000n;
const MAX_TIME = (1n << 63n) - 1n;

/** Rewraps an otp/ input error so that it names the CLI flag. */
function asUsage<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TokenforgeError && e.code !== 'USAGE') throw new UsageError(`${name}: ${e.message}`);
    throw e;
  }
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

// ---- shared option sets ----

type Args = Record<string, unknown> & KeyArgs;

function keyOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('key', { type: 'string', describe: 'Key as hex; @FILE reads it from a file, - from stdin', requiresArg: true })
    .option('key-base32', { type: 'string', describe: 'Key as base32 (RFC 4648, padding optional); @FILE or - as for --key', requiresArg: true });
}

function codeOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('digits', { alias: 'd', type: 'string', default: '6', describe: 'Code length, 6..10', requiresArg: true })
    .option('algorithm', { alias: 'a', type: 'string', default: 'sha1', describe: 'HMAC hash: sha1, sha256 or sha512', requiresArg: true })
    .option('window', { alias: 'w', type: 'string', default: '0', describe: 'Number of extra codes to print (or to search)', requiresArg: true });
}

function timeOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('time', { type: 'string', describe: 'Unix time in seconds (default: now), past 2038 too; totp: repeat for several times', requiresArg: true })
    .option('period', { type: 'string', default: '30', describe: 'Time step X in seconds', requiresArg: true })
    .option('t0', { type: 'string', default: '0', describe: 'Unix time T0 at which step 0 starts', requiresArg: true });
}

/** Time steps for `--time` (each value when it repeats; now when absent). */
function readTimeSteps(args: Args): bigint[] {
  const times = list(args['time']);
  const period = bigInteger(args['period'], '--period', { min: 1n, max: 1_000_000_000n });
  const t0 = bigInteger(args['t0'], '--t0', { max: MAX_TIME });
  const values = times.length === 0 ? [BigInt(Math.floor(Date.now() / 1000))] : times.map((t) => bigInteger(t, '--time', { max: MAX_TIME }));
  return values.map((time) => {
    if (time < t0) throw new UsageError(`--time: ${time} is before --t0 ${t0}; give a later time or an earlier t0`);
    return totpStep(time, period, t0);
  });
}

function readTimeStep(args: Args): bigint {
  single(args['time'], '--time');
  return readTimeSteps(args)[0]!;
}

function withEngine<T>(args: Args, f: (engine: ReturnType<typeof createHotpEngine>) => T): T {
  const digits = parseDigits(args['digits']);
  const algorithm = hashAlgorithm(args['algorithm']);
  const key = readKey(args);
  const engine = createHotpEngine(key, { algorithm, digits });
  key.fill(0);
  let result: T;
  try {
    result = f(engine);
  } catch (e) {
    engine.destroy();
    throw e;
  }
  // An asynchronous user (the streamed window output) keeps the engine until its promise settles.
  if (result instanceof Promise) return result.finally(() => engine.destroy()) as T;
  engine.destroy();
  return result;
}

/** Streams the codes of W+1 counters from each start (batch engine, bounded memory; cli/code-output.ts). */
function printRanges(args: Args, starts: bigint[], startName: string): Promise<void> {
  const window = bigInteger(args['window'], '--window', { max: MAX_WINDOW });
  for (const start of starts) {
    if (start + window > MAX_COUNTER) throw new UsageError(`--window: ${startName} + window passes 2^64-1; give a smaller window`);
  }
  const ranges = starts.map((start) => ({ start, count: Number(window) + 1 }));
  return withEngine(args, (engine) => writeCodeRanges(process.stdout, engine, ranges));
}

// ---- subcommands ----

const hotpCommand: CommandModule<object, Args> = {
  command: 'hotp',
  describe: 'Print HOTP codes (RFC 4226) for counters N..N+W, one a line',
  builder: (y) =>
    codeOptions(keyOptions(y))
      .option('counter', { alias: 'c', type: 'string', default: '0', describe: 'First counter N, 0..2^64-1', requiresArg: true })
      .example('$0 otp hotp --key 3132333435363738393031323334353637383930 --counter 0 --window 2', 'Codes for counters 0, 1, 2 (755224 287082 359152)')
      .example('$0 otp hotp --key-base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ -c 5 -d 8', 'An 8-digit code from a base32 key')
      .example('$0 otp hotp --key @seed.hex --algorithm sha256', 'Read the hex key from a file (kept out of the process list)') as Argv<Args>,
  handler: (args) => {
    const counter = bigInteger(args['counter'], '--counter', { max: MAX_COUNTER });
    return printRanges(args, [counter], '--counter');
  },
};

const totpCommand: CommandModule<object, Args> = {
  command: 'totp',
  describe: 'Print TOTP codes (RFC 6238) for time steps T..T+W, one a line (for each --time in turn)',
  builder: (y) =>
    timeOptions(codeOptions(keyOptions(y)))
      .example('$0 otp totp --key 3132333435363738393031323334353637383930 --time 59 --digits 8', 'RFC 6238 Appendix B: 94287082')
      .example('$0 otp totp --key-base32 JBSWY3DPEHPK3PXP', 'The current code of an authenticator-app secret')
      .example('$0 otp totp --key 3132333435363738393031323334353637383930 -d 8 --time 59 --time 1111111109', 'One code per time: 94287082 07081804')
      .example('$0 otp totp --key - --time 20000000000 -a sha512 -d 8 < seed.hex', 'A code in the year 2603, key from stdin') as Argv<Args>,
  handler: (args) => {
    return printRanges(args, readTimeSteps(args), 'the time step');
  },
};

const verifyCommand: CommandModule<object, Args> = {
  command: 'verify',
  describe: 'Find the counter (hotp) or time step (totp) whose code matches --code; exit 1 when none does',
  builder: (y) =>
    timeOptions(codeOptions(keyOptions(y)))
      .option('code', { type: 'string', demandOption: true, describe: 'The code to look for (exactly --digits digits)', requiresArg: true })
      .option('type', { type: 'string', choices: ['hotp', 'totp'], default: 'hotp', describe: 'hotp: search counters N..N+W; totp: steps T-W..T+W' })
      .option('counter', { alias: 'c', type: 'string', describe: 'hotp: first counter to search (default 0)', requiresArg: true })
      .example('$0 otp verify --key 3132333435363738393031323334353637383930 --code 969429 --window 10', 'Prints 3 (the counter of 969429)')
      .example('$0 otp verify --type totp --key 3132333435363738393031323334353637383930 -d 8 --code 07081804 --time 1111111109', 'Prints the time step 37037036')
      .example('$0 otp verify --type totp --key-base32 JBSWY3DPEHPK3PXP --code 123456 --window 1', 'Accepts the previous, current or next step') as Argv<Args>,
  handler: (args) => {
    const codeText = String(single(args['code'], '--code'));
    const digits = parseDigits(args['digits']);
    if (!/^[0-9]+$/.test(codeText) || codeText.length !== digits) {
      throw new UsageError(`--code: must be exactly ${digits} decimal digits (--digits ${digits}); check the code or set --digits`);
    }
    const window = bigInteger(args['window'], '--window', { max: MAX_WINDOW });
    let start: bigint;
    let span: bigint;
    let what: string;
    if (args['type'] === 'totp') {
      if (args['counter'] !== undefined) throw new UsageError('--counter: applies to --type hotp; a totp search uses --time, --period and --t0');
      const step = readTimeStep(args);
      start = step > window ? step - window : 0n;
      span = step + window - start + 1n;
      what = `time steps ${start}..${start + span - 1n}`;
    } else {
      if (args['time'] !== undefined) throw new UsageError('--time: applies to --type totp; add --type totp or drop --time');
      start = optionalBigInteger(args['counter'], '--counter', { max: MAX_COUNTER }) ?? 0n;
      span = window + 1n;
      what = `counters ${start}..${start + window > MAX_COUNTER ? MAX_COUNTER : start + window}`;
    }
    const found = withEngine(args, (engine) => engine.findInWindow(Number(codeText), start, Number(span)));
    if (found < 0n) {
      process.stderr.write(`tokenforge: no match: the code matches none of ${what}\n`);
      process.exitCode = 1;
      return;
    }
    out(String(found));
  },
};

const OCRA_MODES = ['one-way', 'signature', 'server', 'client'] as const;

const ocraCommand: CommandModule<object, Args> = {
  command: 'ocra',
  describe: 'Print OCRA responses (RFC 6287): one-way, mutual (server/client) or signature',
  builder: (y) =>
    keyOptions(y)
      .option('suite', { alias: 's', type: 'string', demandOption: true, describe: 'OCRA suite, e.g. OCRA-1:HOTP-SHA1-6:QN08', requiresArg: true })
      .option('mode', { type: 'string', choices: OCRA_MODES, default: 'one-way', describe: 'one-way and signature use --question; server (over QC|QS) and client (over QS|QC) use the two challenges' })
      .option('question', { alias: 'q', type: 'string', array: true, describe: 'Challenge; repeat for several responses', requiresArg: true })
      .option('client-challenge', { type: 'string', array: true, describe: 'Mutual mode: the client challenge QC (repeatable)', requiresArg: true })
      .option('server-challenge', { type: 'string', array: true, describe: 'Mutual mode: the server challenge QS (repeatable)', requiresArg: true })
      .option('counter', { alias: 'c', type: 'string', array: true, describe: 'Counter C for suites with C (repeatable; paired with the challenges)', requiresArg: true })
      .option('pin', { type: 'string', describe: 'PIN for suites with P (hashed with the suite hash); @FILE or - to keep it out of ps', requiresArg: true })
      .option('pin-hash', { type: 'string', describe: 'The PIN hash as hex, instead of --pin', requiresArg: true })
      .option('session', { type: 'string', describe: 'Session information as hex for suites with S', requiresArg: true })
      .option('timestamp', { type: 'string', describe: 'Time-step count T for suites with T (decimal, or hex with 0x)', requiresArg: true })
      .option('time', { type: 'string', describe: 'Unix time in seconds, instead of --timestamp (T = time / step)', requiresArg: true })
      .example('$0 otp ocra -s OCRA-1:HOTP-SHA1-6:QN08 --key 3132333435363738393031323334353637383930 -q 00000000 -q 11111111', 'Two one-way responses (237653, 243178)')
      .example('$0 otp ocra -s OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1 --key @seed32.hex -c 0 -q 12345678 --pin 1234', 'Counter and PIN (65347737)')
      .example('$0 otp ocra --mode server -s OCRA-1:HOTP-SHA256-8:QA08 --key @seed32.hex --client-challenge CLI22220 --server-challenge SRV11110', 'Mutual mode, server response (28247970)')
      .example('$0 otp ocra --mode signature -s OCRA-1:HOTP-SHA512-8:QA10-T1M --key @seed64.hex -q SIG1000000 --timestamp 0x132d0b6', 'Signature with a timestamp (77537423)') as Argv<Args>,
  handler: (args) => {
    const suite = parseOcraSuite(String(single(args['suite'], '--suite')));
    const mode = args['mode'] as (typeof OCRA_MODES)[number];
    const mutual = mode === 'server' || mode === 'client';
    const questions = list(args['question']);
    const clientChallenges = list(args['client-challenge']);
    const serverChallenges = list(args['server-challenge']);
    const counters = list(args['counter']).map((c) => bigInteger(c, '--counter', { max: MAX_COUNTER }));
    if (mutual) {
      if (questions.length > 0) throw new UsageError(`--question: mode ${mode} takes --client-challenge and --server-challenge instead`);
      if (clientChallenges.length === 0 || serverChallenges.length === 0) throw new UsageError(`mode ${mode} needs both --client-challenge and --server-challenge`);
    } else {
      if (clientChallenges.length > 0 || serverChallenges.length > 0) throw new UsageError('--client-challenge/--server-challenge: only for --mode server or client; use --question');
      if (questions.length === 0) throw new UsageError(`--question: ${suite.text} needs a challenge (--question Q)`);
    }
    const lists: [string, number][] = mutual
      ? [['--client-challenge', clientChallenges.length], ['--server-challenge', serverChallenges.length], ['--counter', counters.length]]
      : [['--question', questions.length], ['--counter', counters.length]];
    const n = Math.max(...lists.map(([, len]) => len));
    for (const [name, len] of lists) {
      if (len > 1 && len !== n) throw new UsageError(`${name}: given ${len} times but another list has ${n}; repeated values are paired, so give each list once or ${n} times`);
    }
    const pick = <T>(xs: T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs.length === 1 ? xs[0] : xs[i]);

    const base: Omit<OcraInput, 'question'> = {};
    const pinText = single(args['pin'], '--pin');
    if (args.key === '-' && pinText === '-') throw new UsageError('--pin -: standard input already carries the key (--key -); give the PIN as @FILE');
    if (pinText !== undefined) base.pin = readIndirect(pinText, '--pin');
    const pinHash = single(args['pin-hash'], '--pin-hash');
    if (pinHash !== undefined) base.pinHash = asUsage('--pin-hash', () => hexToBytes(pinHash, 'hex'));
    const session = single(args['session'], '--session');
    if (session !== undefined) base.session = asUsage('--session', () => hexToBytes(session, 'hex'));
    const ts = optionalBigInteger(args['timestamp'], '--timestamp', { max: MAX_COUNTER, hex: true });
    if (ts !== undefined) base.timestamp = ts;
    const time = optionalBigInteger(args['time'], '--time', { max: MAX_TIME });
    if (time !== undefined) base.timeSec = time;

    const key = readKey(args);
    try {
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        const input: Omit<OcraInput, 'question'> = { ...base };
        const c = pick(counters, i);
        if (c !== undefined) input.counter = c;
        if (mutual) {
          const m = { ...input, clientChallenge: pick(clientChallenges, i)!, serverChallenge: pick(serverChallenges, i)! };
          lines.push(mode === 'server' ? ocraServerResponse(suite, key, m) : ocraClientResponse(suite, key, m));
        } else {
          const q = { ...input, question: pick(questions, i)! };
          lines.push(mode === 'signature' ? ocraSignature(suite, key, q) : ocra(suite, key, q));
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      key.fill(0);
    }
  },
};

const uriParseCommand: CommandModule<object, Args> = {
  command: 'parse [uri]',
  describe: 'Check an otpauth:// URI and print its fields as JSON (the secret only with --show-secret)',
  builder: (y) =>
    y
      .positional('uri', { type: 'string', describe: 'The URI; @FILE reads it from a file; - or nothing reads stdin (the URI contains the secret)' })
      .option('show-secret', { type: 'boolean', default: false, describe: 'Also print the secret as hex' })
      .example("$0 otp uri parse 'otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example'", 'Prints type, issuer, account, algorithm, digits, period') as Argv<Args>,
  handler: (args) => {
    // yargs hands a positional "-" over as "", so both it and a missing URI mean stdin.
    const given = args['uri'] === undefined || args['uri'] === '' ? '-' : String(args['uri']);
    const key = parseOtpauthUri(readIndirect(given, 'URI'));
    const view: Record<string, unknown> = { type: key.type };
    if (key.issuer !== undefined) view['issuer'] = key.issuer;
    view['account'] = key.account;
    view['algorithm'] = key.algorithm;
    view['digits'] = key.digits;
    if (key.counter !== undefined) view['counter'] = key.counter.toString();
    if (key.periodSec !== undefined) view['period'] = key.periodSec;
    view['secretBytes'] = key.secret.length;
    if (args['show-secret']) view['secretHex'] = bytesToHex(key.secret);
    key.secret.fill(0);
    out(JSON.stringify(view, null, 2));
  },
};

const uriFormatCommand: CommandModule<object, Args> = {
  command: 'format',
  describe: 'Print an otpauth:// URI for a key (Key Uri Format)',
  builder: (y) =>
    timeOptions(keyOptions(y))
      .option('type', { type: 'string', choices: ['hotp', 'totp'], default: 'totp', describe: 'Token type' })
      .option('account', { type: 'string', demandOption: true, describe: 'Account name (no colon)', requiresArg: true })
      .option('issuer', { type: 'string', describe: 'Issuer, put in the label prefix and the issuer parameter (no colon)', requiresArg: true })
      .option('digits', { alias: 'd', type: 'string', default: '6', describe: 'Code length, 6..10', requiresArg: true })
      .option('algorithm', { alias: 'a', type: 'string', default: 'sha1', describe: 'sha1, sha256 or sha512', requiresArg: true })
      .option('counter', { alias: 'c', type: 'string', default: '0', describe: 'hotp: initial counter', requiresArg: true })
      .example('$0 otp uri format --key 48656c6c6f21deadbeef --issuer Example --account alice@google.com', 'otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&...') as Argv<Args>,
  handler: (args) => {
    const type = args['type'] as 'hotp' | 'totp';
    const account = String(single(args['account'], '--account'));
    const issuer = single(args['issuer'], '--issuer');
    if (account.length === 0 || account.includes(':')) throw new UsageError('--account: must be non-empty and contain no colon');
    if (issuer !== undefined && (issuer.length === 0 || issuer.includes(':'))) throw new UsageError('--issuer: must be non-empty and contain no colon');
    const secret = readKey(args);
    const key: OtpauthKey = {
      type,
      account,
      secret,
      algorithm: hashAlgorithm(args['algorithm']),
      digits: parseDigits(args['digits']),
    };
    if (issuer !== undefined) key.issuer = issuer;
    if (type === 'hotp') key.counter = bigInteger(args['counter'], '--counter', { max: MAX_COUNTER });
    else key.periodSec = Number(bigInteger(args['period'], '--period', { min: 1n, max: 1_000_000_000n }));
    try {
      out(formatOtpauthUri(key));
    } finally {
      secret.fill(0);
    }
  },
};

const uriCommand: CommandModule<object, Args> = {
  command: 'uri',
  describe: 'Parse or format otpauth:// URIs (Key Uri Format)',
  builder: (y) => y.command(uriParseCommand).command(uriFormatCommand).demandCommand(1, 'Name a subcommand: parse or format') as Argv<Args>,
  handler: () => {},
};

export const otpCommand: CommandModule<object, Args> = {
  command: 'otp',
  describe: 'Compute and verify HOTP, TOTP and OCRA codes; parse and format otpauth:// URIs',
  builder: (y) =>
    y
      .command(hotpCommand)
      .command(totpCommand)
      .command(ocraCommand)
      .command(verifyCommand)
      .command(uriCommand)
      .demandCommand(1, 'Name a subcommand: hotp, totp, ocra, verify or uri')
      .example('$0 otp hotp --key 3132333435363738393031323334353637383930 -w 9', 'The ten RFC 4226 Appendix D codes') as Argv<Args>,
  handler: () => {},
};
