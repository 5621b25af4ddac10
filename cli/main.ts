/**
 * The `tokenforge` command. This is the only layer that reads argv and the environment and wires real parts
 * (ports, sockets, files, databases) into the pure layers below.
 *
 * Each top-level command lives in cli/commands/<name>.ts and exports a yargs CommandModule; they are listed in
 * COMMANDS below.
 */
import yargs, { type CommandModule } from 'yargs';
import { reportError, UsageError } from './errors.ts';
import { COMMANDS } from './commands/index.ts';

function notLoaded(): never {
  throw new Error('internal error: a command ran whose module was not loaded');
}

export async function main(argv: string[]): Promise<void> {
  const known = new Set(COMMANDS.map((c) => c.name));
  // Load only the command that runs. Top-level help, --version and usage errors need only each command's name
  // and description, which the registry holds.
  const commandWord = argv.find((a) => !a.startsWith('-'));
  const selected = COMMANDS.find((c) => c.name === commandWord);
  const modules: CommandModule[] = selected
    ? [(await selected.load()) as CommandModule]
    : COMMANDS.map((c) => ({ command: c.command, describe: c.describe, handler: notLoaded }));
  let parser = yargs(argv)
    .scriptName('tokenforge')
    .usage('$0 <command> [options]\n\nToolkit for hardware one-time-password tokens.')
    .strict()
    .demandCommand(1, 'no command given; name a command such as otp or conformance')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      if (err) throw err;
      // yargs reports an unknown first word as an "argument"; name it as the command it was meant to be.
      const first = argv[0];
      if (msg?.startsWith('Unknown argument') && first !== undefined && !first.startsWith('-') && !known.has(first)) {
        throw new UsageError(`unknown command "${first}"; the commands are: ${[...known].join(', ')} (see --help)`);
      }
      throw new UsageError(`${msg} (see --help)`);
    });
  for (const command of modules) parser = parser.command(command);
  try {
    await parser.parseAsync();
  } catch (e) {
    process.exitCode = reportError(e);
  }
}
