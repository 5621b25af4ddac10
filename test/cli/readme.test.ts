/**
 * Every command the README shows runs as shown (tools/readme.ts): each ```console block runs as one bash script
 * in a fresh directory with `tokenforge` on PATH, and every command's exit status must be the one the README
 * states (0 unless the line says `# exit N`).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReadme, parseBlocks } from '../../tools/readme.ts';

const root = resolve(import.meta.dirname, '../..');

describe('README', () => {
  it('parses the runnable blocks: commands, expected exits, background jobs', () => {
    const blocks = parseBlocks('x\n```console\n$ a --b &\nready\n$ c # exit 2\nerr\n```\n```sh\n$ not run\n```\n');
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.commands).toEqual([
      { line: 'a --b &', expectExit: 0, background: true, output: ['ready'] },
      { line: 'c # exit 2', expectExit: 2, background: false, output: ['err'] },
    ]);
  });

  it('shows the quick start and runs every command as shown', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
    expect(parseBlocks(readme).flatMap((b) => b.commands).length).toBeGreaterThanOrEqual(20);
    expect(checkReadme(join(root, 'README.md'), root)).toEqual([]);
  }, 300_000);
});
