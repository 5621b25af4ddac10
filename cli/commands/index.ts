/**
 * The registry of top-level commands; each lives in its own file beside this one and is loaded only when it
 * runs (loading every layer costs about a second of start-up under tsx; `tokenforge otp` needs none of the
 * verifier, simulator or provisioner).
 */
import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

export interface CommandEntry {
  name: string;
  load(): Promise<AnyCommand>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'otp', load: async () => (await import('./otp.ts')).otpCommand },
  { name: 'conformance', load: async () => (await import('./conformance.ts')).conformanceCommand },
  { name: 'verifier', load: async () => (await import('./verifier.ts')).verifierCommand },
  { name: 'pskc', load: async () => (await import('./pskc.ts')).pskcCommand },
  { name: 'device', load: async () => (await import('./device.ts')).deviceCommand },
  { name: 'provision', load: async () => (await import('./provision.ts')).provisionCommand },
  { name: 'sim', load: async () => (await import('./sim.ts')).simCommand },
  { name: 'demo', load: async () => (await import('./demo.ts')).demoCommand },
];
