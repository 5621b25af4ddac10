import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintDependencies } from '../tools/lint-deps.ts';

describe('dependency direction', () => {
  it('holds for the project', () => {
    expect(lintDependencies(resolve(import.meta.dirname, '..'))).toEqual([]);
  });

  it('catches an upward import and argv use', () => {
    const root = mkdtempSync(join(tmpdir(), 'tf-lint-'));
    mkdirSync(join(root, 'otp'));
    mkdirSync(join(root, 'verifier'));
    writeFileSync(join(root, 'otp', 'a.ts'), "import { x } from '../verifier/b.ts';\n");
    writeFileSync(join(root, 'verifier', 'b.ts'), "export const x = process.argv;\n");
    const problems = lintDependencies(root);
    expect(problems.some((p) => p.includes('otp/a.ts') && p.includes('verifier/'))).toBe(true);
    expect(problems.some((p) => p.includes('verifier/b.ts') && p.includes('process.argv'))).toBe(true);
  });
});
