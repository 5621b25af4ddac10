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

export async function main(argv: string[]): Promise<void> {
  const known = new Set(COMMANDS.map((c) => c.name));
  // Load only the command that runs; help and usage errors need them all.
  const commandWord = argv.find((a) => !a.startsWith('-'));
  const selected = COMMANDS.filter((c) => commandWord === undefined || !known.has(commandWord) || c.name === commandWord);
  const modules = await Promise.all(selected.map((c) => c.load()));
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
  for (const command of modules) parser = parser.command(command as CommandModule);
  try {
    await parser.parseAsync();
  } catch (e) {
    process.exitCode = reportError(e);
  }
}
