import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lintDependencies, SHELLS } from '../../tools/lint-deps.ts';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A throw-away project: path -> file text. */
function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tf-lint-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const problemsOf = (problems: string[], file: string) => problems.filter((p) => p.startsWith(`${file}:`));

describe('dependency direction', () => {
  it('holds for the project', () => {
    expect(lintDependencies(resolve(import.meta.dirname, '../..'))).toEqual([]);
  });

  it('catches an upward import and argv use', () => {
    const root = project({
      'otp/a.ts': "import { x } from '../verifier/b.ts';\n",
      'verifier/b.ts': 'export const x = process.argv;\n',
    });
    const problems = lintDependencies(root);
    expect(problems.some((p) => p.includes('otp/a.ts') && p.includes('verifier/'))).toBe(true);
    expect(problems.some((p) => p.includes('verifier/b.ts') && p.includes('process.argv'))).toBe(true);
  });
});

describe('test doubles (firmware-sim/testing/)', () => {
  const testing = "import { MemoryLog } from '../firmware-sim/testing/index.ts';\n";
  it('may be imported from test/, bench/ and inside testing/ only', () => {
    const root = project({
      'firmware-sim/testing/index.ts': "export { helper } from './helper.ts';\n",
      'firmware-sim/testing/helper.ts': 'export const helper = 1;\n',
      'test/a.test.ts': testing,
      'bench/b.bench.ts': testing,
      'cli/commands/demo.ts': "import { MemoryLog } from '../../firmware-sim/testing/index.ts';\n",
      'firmware-sim/device.ts': "import { MemoryLog } from './testing/index.ts';\n",
      'firmware-sim/host/runner.ts': "export * from '../testing/index.ts';\n",
      'tools/t.ts': "const m = await import('../firmware-sim/testing/index.ts');\n",
    });
    const problems = lintDependencies(root);
    for (const bad of ['cli/commands/demo.ts', 'firmware-sim/device.ts', 'firmware-sim/host/runner.ts', 'tools/t.ts']) {
      expect(problemsOf(problems, bad)).toEqual([expect.stringContaining('firmware-sim/testing/')]);
    }
    for (const ok of ['test/a.test.ts', 'bench/b.bench.ts', 'firmware-sim/testing/index.ts']) expect(problemsOf(problems, ok)).toEqual([]);
  });
});

describe('functional core, thin shell (SHELLS)', () => {
  const effects = [
    "import { readFileSync } from 'node:fs';",
    "import { writeFile } from 'fs/promises';",
    "import { createServer } from 'node:net';",
    "import { spawn } from 'node:child_process';",
    "import { tmpdir } from 'node:os';",
    "import { SerialPort } from 'serialport';",
    "const pty = createRequire(import.meta.url)('node-pty');",
    "import Database from 'better-sqlite3';",
    "import pg from 'pg';",
    'export const a = process.pid;',
    'export const b = Date.now();',
    'export const c = Math.random();',
    "import { randomBytes } from 'node:crypto';",
    'setTimeout(() => {}, 1);',
  ];

  it('catches each OS module and ambient effect in a core file, and allows them in host/', () => {
    const files: Record<string, string> = {};
    effects.forEach((line, i) => {
      files[`firmware-sim/core-${i}.ts`] = `${line}\n`;
      files[`firmware-sim/host/shell-${i}.ts`] = `${line}\n`;
    });
    files['firmware-sim/commented.ts'] = '/** Never calls Date.now() or Math.random(); see node:fs. */\n// process.env is read by the host\nexport const x = 1;\n';
    files['firmware-sim/pure.ts'] = "import { sha256 } from '@noble/hashes/sha2.js';\nimport { join } from 'node:path';\nexport const y = new Date(0);\n";
    const problems = lintDependencies(project(files));
    effects.forEach((line, i) => {
      expect(problemsOf(problems, `firmware-sim/core-${i}.ts`), line).toHaveLength(1);
      expect(problemsOf(problems, `firmware-sim/host/shell-${i}.ts`), line).toEqual([]);
    });
    expect(problemsOf(problems, 'firmware-sim/commented.ts')).toEqual([]);
    expect(problemsOf(problems, 'firmware-sim/pure.ts')).toEqual([]);
    expect(problemsOf(problems, 'firmware-sim/core-0.ts')[0]).toContain('only firmware-sim/host/ may');
  });

  it('is a table: another layer gets the rule by naming its shell folders', () => {
    const root = project({
      'verifier/domain/rules.ts': "import { readFileSync } from 'node:fs';\n",
      'verifier/store/sqlite.ts': "import Database from 'better-sqlite3';\n",
    });
    expect(lintDependencies(root)).toEqual([]);
    SHELLS['verifier'] = ['store', 'http'];
    try {
      const problems = lintDependencies(root);
      expect(problemsOf(problems, 'verifier/domain/rules.ts')).toEqual([expect.stringContaining('only verifier/store/, verifier/http/ may')]);
      expect(problemsOf(problems, 'verifier/store/sqlite.ts')).toEqual([]);
    } finally {
      delete SHELLS['verifier'];
    }
  });
});

describe('OS edges (OS_EDGES)', () => {
  it('lets only protocol/links/ and otp/wasm/build.ts import OS modules, while timers and randomness stay allowed', () => {
    const root = project({
      'protocol/client.ts': "import { randomBytes } from 'node:crypto';\nsetTimeout(() => {}, 1);\n",
      'protocol/endpoint.ts': "import { createServer } from 'node:net';\n",
      'protocol/links/serial.ts': "import { SerialPort } from 'serialport';\n",
      'otp/engine.ts': "import { readFileSync } from 'node:fs';\n",
      'otp/wasm/build.ts': "import { writeFileSync } from 'node:fs';\n",
    });
    const problems = lintDependencies(root);
    expect(problemsOf(problems, 'protocol/endpoint.ts')).toEqual([expect.stringContaining('imports node:net; only protocol/links/ may')]);
    expect(problemsOf(problems, 'otp/engine.ts')).toEqual([expect.stringContaining('only otp/wasm/build.ts may')]);
    expect(problemsOf(problems, 'protocol/client.ts')).toEqual([]);
    expect(problemsOf(problems, 'protocol/links/serial.ts')).toEqual([]);
    expect(problemsOf(problems, 'otp/wasm/build.ts')).toEqual([]);
  });
});
