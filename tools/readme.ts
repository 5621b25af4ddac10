/**
 * README command checker: every command the README shows runs as shown.
 *
 * Runnable examples are fenced blocks whose info string is `console`. Inside, a line `$ CMD` is a command and
 * the lines after it (up to the next `$ ` line) are its recorded output. Each block runs as one bash script in
 * a fresh temporary directory, with `tokenforge` on PATH (this checkout's build, dist/tokenforge.js: what `npm install` links), so a block may set
 * variables and start servers for its later commands:
 *   - `CMD &` runs in the background; the checker waits until it has printed its first line (readiness) and
 *     records that output; background jobs are killed when the block ends;
 *   - a command must exit 0, unless its line ends with `# exit N`.
 *
 *   tsx tools/readme.ts --check    run every block; exit 1 when a command's exit status differs
 *   tsx tools/readme.ts --update   run every block and rewrite the recorded outputs with what the commands printed
 *
 * Output is compared only by exit status (it holds serials, ports, times); --update keeps the shown output real.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtCli } from './build.ts';

export interface Command {
  line: string;
  expectExit: number;
  background: boolean;
  output: string[];
}

export interface Block {
  /** Index of the opening fence line in the README. */
  start: number;
  end: number;
  commands: Command[];
}

export function parseBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```console') continue;
    const block: Block = { start: i, end: i, commands: [] };
    let j = i + 1;
    for (; j < lines.length && lines[j]!.trim() !== '```'; j++) {
      const l = lines[j]!;
      if (l.startsWith('$ ')) {
        const m = /\s+# exit (\d+)\s*$/.exec(l);
        const cmd = (m ? l.slice(0, m.index) : l).slice(2);
        block.commands.push({ line: l.slice(2), expectExit: m ? Number(m[1]) : 0, background: /&\s*$/.test(cmd), output: [] });
      } else if (block.commands.length > 0) {
        block.commands[block.commands.length - 1]!.output.push(l);
      }
    }
    block.end = j;
    blocks.push(block);
    i = j;
  }
  return blocks;
}

const MARK = '@@readme';

/** The bash script for one block: markers around each command so that outputs and statuses can be split. */
function scriptFor(block: Block): string {
  const parts = ['set -u', 'trap \'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null\' EXIT'];
  block.commands.forEach((c, n) => {
    parts.push(`echo "${MARK} begin ${n}"`);
    if (c.background) {
      const cmd = c.line.replace(/&\s*$/, '').replace(/\s+# exit \d+\s*$/, '');
      parts.push(`( ${cmd} ) > .bg${n}.out 2>&1 &`);
      parts.push(`for _ in $(seq 1 600); do [ -s .bg${n}.out ] && break; sleep 0.1; done; sleep 0.3; cat .bg${n}.out; echo "${MARK} rc ${n} 0"`);
    } else {
      parts.push(`${c.line.replace(/\s+# exit \d+\s*$/, '')} 2>&1; echo "${MARK} rc ${n} $?"`);
    }
  });
  return parts.join('\n') + '\n';
}

export interface BlockResult {
  outputs: string[][];
  statuses: (number | undefined)[];
}

export function runBlock(block: Block, root: string, timeoutMs = 300_000): BlockResult {
  const dir = mkdtempSync(join(tmpdir(), 'tf-readme-'));
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'tokenforge'), `#!/bin/sh\nexec "${process.execPath}" "${builtCli(root)}" "$@"\n`);
  chmodSync(join(bin, 'tokenforge'), 0o755);
  // Examples name the project's data files by their path in the checkout (conformance/vectors/...).
  for (const d of ['conformance', 'docs']) symlinkSync(join(root, d), join(dir, d));
  try {
    const r = spawnSync('bash', ['-c', scriptFor(block)], {
      cwd: dir,
      encoding: 'utf8',
      timeout: timeoutMs,
      env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, COLUMNS: '100', NO_COLOR: '1' },
    });
    const outputs: string[][] = block.commands.map(() => []);
    const statuses: (number | undefined)[] = block.commands.map(() => undefined);
    let cur = -1;
    for (const l of (r.stdout ?? '').split('\n')) {
      const b = new RegExp(`^${MARK} begin (\\d+)$`).exec(l);
      const s = new RegExp(`^${MARK} rc (\\d+) (\\d+)$`).exec(l);
      if (b) cur = Number(b[1]);
      else if (s) {
        statuses[Number(s[1])] = Number(s[2]);
        cur = -1;
      } else if (cur >= 0) outputs[cur]!.push(l.replaceAll(dir, '.'));
    }
    return { outputs, statuses };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function checkReadme(readmePath: string, root: string): string[] {
  const problems: string[] = [];
  for (const block of parseBlocks(readFileSync(readmePath, 'utf8'))) {
    const r = runBlock(block, root);
    block.commands.forEach((c, n) => {
      if (r.statuses[n] !== c.expectExit) {
        problems.push(`README line ${block.start + 1}: \`${c.line}\` exited ${r.statuses[n] ?? 'never (timeout?)'}, expected ${c.expectExit}:\n${r.outputs[n]!.slice(-8).join('\n')}`);
      }
    });
  }
  return problems;
}

function updateReadme(readmePath: string, root: string): void {
  const text = readFileSync(readmePath, 'utf8');
  const lines = text.split('\n');
  const blocks = parseBlocks(text);
  // Rewrite from the last block up so that earlier line numbers stay valid.
  for (const block of [...blocks].reverse()) {
    const r = runBlock(block, root);
    const body: string[] = [];
    block.commands.forEach((c, n) => {
      body.push(`$ ${c.line}`);
      const out = r.outputs[n]!;
      while (out.length > 0 && out[out.length - 1] === '') out.pop();
      body.push(...out);
      if (r.statuses[n] !== c.expectExit) console.error(`warning: \`${c.line}\` exited ${r.statuses[n]}, expected ${c.expectExit}`);
    });
    lines.splice(block.start + 1, block.end - block.start - 1, ...body);
  }
  writeFileSync(readmePath, lines.join('\n'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const readme = join(root, 'README.md');
  if (process.argv.includes('--update')) {
    updateReadme(readme, root);
  } else {
    const problems = checkReadme(readme, root);
    for (const p of problems) console.error(p);
    console.log(problems.length === 0 ? 'readme: every command ran as shown' : `readme: ${problems.length} command(s) did not run as shown`);
    process.exitCode = problems.length === 0 ? 0 : 1;
  }
}
