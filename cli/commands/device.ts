/**
 * `tokenforge device info|ping|wink|time|self-test --port PATH_OR_tcp://HOST:PORT [--json]`: talk to one token,
 * real (a serial port such as /dev/ttyACM0) or emulated (a PTY or tcp:// served by the simulator).
 *
 * Errors are one line: a port that does not exist or a malformed target is a usage error (exit 2); a port that
 * does not answer, answers with something that is not a token, or a token that refuses, exits 1.
 */
import type { Argv, CommandModule } from 'yargs';
import { bytesToHex } from '../../otp/hex.ts';
import { TokenClient } from '../../protocol/client.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import type { DeviceInfo } from '../../protocol/messages.ts';
import { CAPABILITY, MAX_MESSAGE_SIZE } from '../../protocol/registry.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { openTransport } from '../../protocol/links/open.ts';
import { verifyAttestation } from '../../protocol/wrap.ts';
import { UsageError } from '../errors.ts';
import { optionalInteger, single } from '../flags.ts';
import { trustAnchors } from '../key-flags.ts';

interface Args {
  port?: string;
  json?: boolean;
  'timeout-ms'?: string;
  'trust-anchor'?: string | string[];
  'trust-test-attestation'?: boolean;
  size?: string;
}

function portOf(args: Args): string {
  const port = single(args.port, '--port');
  if (typeof port !== 'string' || port === '') throw new UsageError('--port: required; give a serial device path (/dev/ttyACM0) or tcp://HOST:PORT');
  return port;
}

function anchorsOf(args: Args): Uint8Array[] {
  return trustAnchors(args['trust-anchor'], args['trust-test-attestation'] === true);
}

async function withClient<T>(args: Args, f: (c: TokenClient) => Promise<T>): Promise<T> {
  const port = portOf(args);
  const timeoutMs = optionalInteger(args['timeout-ms'], '--timeout-ms', { min: 50, max: 600_000 }) ?? 2000;
  let transport;
  try {
    transport = await openTransport(port, { connectTimeoutMs: timeoutMs });
  } catch (e) {
    if (e instanceof ProtocolError && (e.code === 'PORT_NOT_FOUND' || e.code === 'INVALID_ARGUMENT')) throw new UsageError(`--port: ${e.message}`);
    throw e;
  }
  let client: TokenClient | undefined;
  try {
    client = await TokenClient.open(transport, { timeoutMs, retries: 1, trustAnchors: anchorsOf(args), onKeepalive: (s) => s === 'UPNEEDED' && !args.json && process.stderr.write('touch the token to confirm...\n') });
    return await f(client);
  } finally {
    if (client) await client.close();
    else await transport.close();
  }
}

function out(args: Args, json: unknown, text: string): void {
  if (args.json) process.stdout.write(`${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v), 2)}\n`);
  else process.stdout.write(`${text}\n`);
}

function capabilityNames(bits: number): string[] {
  return Object.entries(CAPABILITY)
    .filter(([, v]) => (bits & v) !== 0)
    .map(([k]) => k);
}

function attestationOf(info: DeviceInfo, anchors: Uint8Array[]): string {
  if (anchors.length === 0) return 'not checked (give --trust-anchor HEX, or --trust-test-attestation for simulators)';
  if (!verifyAttestation(info, anchors)) return 'INVALID: not signed by a given trust anchor';
  return verifyAttestation(info, [TEST_ATTESTATION_PUBLIC_KEY]) ? 'valid (TEST attestation key: emulated or development token)' : 'valid';
}

const common = (y: Argv): Argv<Args> =>
  y
    .option('port', { alias: 'p', type: 'string', describe: 'Serial device path (/dev/ttyACM0, a PTY) or tcp://HOST:PORT', requiresArg: true })
    .option('json', { type: 'boolean', describe: 'Print JSON instead of text' })
    .option('timeout-ms', { type: 'string', describe: 'Wait at most this long for each answer (default 2000)', requiresArg: true }) as Argv<Args>;

const infoCommand: CommandModule<Args, Args> = {
  command: 'info',
  describe: 'Show model, serial, firmware, state, slots, clock and the attestation of the device key (GET_INFO)',
  builder: (y) =>
    common(y)
      .option('trust-anchor', { type: 'string', describe: 'Factory attestation public key (hex, uncompressed P-256); repeatable', requiresArg: true })
      .option('trust-test-attestation', { type: 'boolean', describe: 'Also trust the published TEST attestation key (simulators only)' })
      .example('$0 device info --port /dev/ttyACM0', 'Identify a token on a USB serial port')
      .example('$0 device info --port tcp://127.0.0.1:7000 --json --trust-test-attestation', 'An emulated token, as JSON') as Argv<Args>,
  handler: async (args) =>
    withClient(args, async (c) => {
      const info = await c.info();
      const attestation = attestationOf(info, anchorsOf(args));
      const init = c.initInfo;
      out(args, { ...info, capabilityNames: capabilityNames(info.capabilities), attestation, channel: init.cid, hidVersion: init.firmware }, [
        `model:        ${info.model}`,
        `serial:       ${info.serial}`,
        `firmware:     ${info.firmwareVersion}`,
        `state:        ${info.state}`,
        `slots:        ${info.slotsUsed} of ${info.slotCount} used`,
        `capabilities: ${capabilityNames(info.capabilities).join(' ') || '(none)'}`,
        `clock:        ${info.rtcTimeSec === undefined ? 'no RTC' : `${info.rtcTimeSec} (${new Date(Number(info.rtcTimeSec) * 1000).toISOString()})`}`,
        `PIN retries:  ${info.pinRetries}`,
        `device key:   ${bytesToHex(info.devicePublicKey).slice(0, 32)}...`,
        `attestation:  ${attestation}`,
      ].join('\n'));
    }),
};

const pingCommand: CommandModule<Args, Args> = {
  command: 'ping',
  describe: 'Send PING with --size bytes and check the echo; prints the round-trip time',
  builder: (y) => common(y).option('size', { type: 'string', default: '64', describe: `Payload bytes, 0..${MAX_MESSAGE_SIZE}`, requiresArg: true }) as Argv<Args>,
  handler: async (args) =>
    withClient(args, async (c) => {
      const size = optionalInteger(args.size, '--size', { min: 0, max: MAX_MESSAGE_SIZE }) ?? 64;
      const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
      const t0 = performance.now();
      await c.ping(data);
      const ms = performance.now() - t0;
      out(args, { bytes: size, roundTripMs: Number(ms.toFixed(2)) }, `${size} bytes echoed in ${ms.toFixed(1)} ms`);
    }),
};

const winkCommand: CommandModule<Args, Args> = {
  command: 'wink',
  describe: 'Make the token identify itself (blink its LED / flash its display)',
  builder: (y) => common(y),
  handler: async (args) =>
    withClient(args, async (c) => {
      await c.wink();
      out(args, { winked: true }, 'winked');
    }),
};

const timeCommand: CommandModule<Args, Args> = {
  command: 'time',
  describe: "Show the token's clock and its offset from this computer's clock (GET_TIME)",
  builder: (y) => common(y),
  handler: async (args) =>
    withClient(args, async (c) => {
      const t = await c.getTime();
      const hostSec = BigInt(Math.floor(Date.now() / 1000));
      const offset = t.timeSec - hostSec;
      out(args, { ...t, hostTimeSec: hostSec, offsetSec: offset }, `${t.timeSec} (${new Date(Number(t.timeSec) * 1000).toISOString()})${t.valid ? '' : ' NOT SET'}, ${offset >= 0n ? '+' : ''}${offset} s from this computer`);
    }),
};

const selfTestCommand: CommandModule<Args, Args> = {
  command: 'self-test',
  describe: "Run the token's known-answer self-tests; exit 1 if any fails",
  builder: (y) => common(y),
  handler: async (args) =>
    withClient(args, async (c) => {
      const r = await c.selfTest();
      out(args, r, r.passed ? 'self-test passed' : `self-test FAILED: ${r.failed.join(', ')}`);
      if (!r.passed) process.exitCode = 1;
    }),
};

export const deviceCommand: CommandModule<object, Args> = {
  command: 'device',
  describe: 'Talk to one token on a serial port or tcp://: info, ping, wink, time, self-test',
  builder: (y) =>
    y
      .command(infoCommand)
      .command(pingCommand)
      .command(winkCommand)
      .command(timeCommand)
      .command(selfTestCommand)
      .demandCommand(1, 'Name a subcommand: info, ping, wink, time or self-test') as Argv<Args>,
  handler: () => {},
};
