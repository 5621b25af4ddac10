/**
 * The registry of top-level commands. Each lives in its own file beside this one and is loaded only when it
 * runs: `tokenforge otp` needs none of the verifier, simulator or provisioner (nor their native modules), and
 * in the build (tools/build.ts) each `import()` below is a chunk of its own.
 *
 * `command` and `describe` are what `tokenforge --help` lists; they are here so that the top-level help and
 * usage errors need no command module at all. Each module states the same two values (test/cli/registry.test.ts
 * checks that they agree); when a command runs, its module's own CommandModule is used.
 */
import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

export interface CommandEntry {
  name: string;
  /** The yargs command string, e.g. `pskc <command>`. */
  command: string;
  describe: string;
  load(): Promise<AnyCommand>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: 'otp',
    command: 'otp',
    describe: 'Compute and verify HOTP, TOTP and OCRA codes; parse and format otpauth:// URIs',
    load: async () => (await import('./otp.ts')).otpCommand,
  },
  {
    name: 'conformance',
    command: 'conformance',
    describe: 'Run RFC vector, transport and verifier conformance suites',
    load: async () => (await import('./conformance.ts')).conformanceCommand,
  },
  {
    name: 'verifier',
    command: 'verifier <command>',
    describe: 'The verification server: serve, tokens, batch, keys, audit verify, rotate-key, export',
    load: async () => (await import('./verifier.ts')).verifierCommand,
  },
  {
    name: 'pskc',
    command: 'pskc <command>',
    describe: 'inspect, diagnose and convert PSKC (RFC 6030) seed files',
    load: async () => (await import('./pskc.ts')).pskcCommand,
  },
  {
    name: 'device',
    command: 'device',
    describe: 'Talk to one token on a serial port or tcp://: info, ping, wink, time, self-test',
    load: async () => (await import('./device.ts')).deviceCommand,
  },
  {
    name: 'provision',
    command: 'provision',
    describe: 'Load seeds into tokens, check them, lock them and register them with the verifier (crash-safe journal; see docs/provisioning.md)',
    load: async () => (await import('./provision.ts')).provisionCommand,
  },
  {
    name: 'sim',
    command: 'sim <command>',
    describe: 'Firmware simulator: serve emulated tokens on PTYs or TCP, press buttons, simulate fleets',
    load: async () => (await import('./sim.ts')).simCommand,
  },
  {
    name: 'demo',
    command: 'demo',
    describe: 'Run the whole job end to end on the embedded defaults: verifier (SQLite), emulated tokens on PTYs, provisioning, users',
    load: async () => (await import('./demo.ts')).demoCommand,
  },
];
