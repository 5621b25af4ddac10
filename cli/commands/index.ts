/** The registry of top-level commands; each lives in its own file beside this one. */
import type { CommandModule } from 'yargs';
import { conformanceCommand } from './conformance.ts';
import { otpCommand } from './otp.ts';
import { pskcCommand } from './pskc.ts';
import { verifierCommand } from './verifier.ts';
import { deviceCommand } from './device.ts';
import { provisionCommand } from './provision.ts';
import { simCommand } from './sim.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const COMMANDS: CommandModule<any, any>[] = [otpCommand, conformanceCommand, verifierCommand, pskcCommand, deviceCommand, provisionCommand, simCommand];
