/**
 * cli/commands/index.ts lists each command's yargs command string and description so that `tokenforge --help`
 * loads no command module; they must be the ones the module itself declares.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/commands/index.ts';

describe('command registry', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s: the registry states the command and description of its module', async (name, entry) => {
    const module = await entry.load();
    expect(String(module.command).split(' ')[0]).toBe(name);
    expect({ command: entry.command, describe: entry.describe }).toEqual({ command: module.command, describe: module.describe });
  });
});
