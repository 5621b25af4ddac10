/**
 * Dependency-direction lint (DESIGN.md "Layout and dependency direction").
 *
 *   otp <- protocol <- firmware-sim;  otp, protocol <- provisioner;  otp <- verifier;
 *   otp, protocol <- conformance;  cli, test, bench, tools -> everything.
 *
 * Also: no layer below cli/ reads process.argv. Run as `npm run lint`; test/lint-deps.test.ts runs it too.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ALLOWED: Record<string, readonly string[]> = {
  otp: [],
  protocol: ['otp'],
  'firmware-sim': ['otp', 'protocol'],
  provisioner: ['otp', 'protocol'],
  verifier: ['otp'],
  conformance: ['otp', 'protocol'],
};

const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

export function lintDependencies(root: string): string[] {
  const problems: string[] = [];
  for (const layer of Object.keys(ALLOWED)) {
    const layerDir = join(root, layer);
    let files: string[];
    try {
      files = [...walk(layerDir)];
    } catch {
      continue;
    }
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      if (/process\.argv/.test(text)) problems.push(`${relative(root, file)}: reads process.argv; only cli/ may`);
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (!spec || !spec.startsWith('.')) continue;
        const target = relative(root, resolve(dirname(file), spec));
        const top = target.split(sep)[0]!;
        if (top === layer || top.startsWith('..')) continue;
        if (!ALLOWED[layer]!.includes(top)) {
          problems.push(`${relative(root, file)}: imports ${spec} (${top}/), but ${layer}/ may only import ${ALLOWED[layer]!.join(', ') || 'nothing outside itself'}`);
        }
      }
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = lintDependencies(root);
  for (const p of problems) console.error(p);
  console.log(problems.length === 0 ? 'lint-deps: dependency direction OK' : `lint-deps: ${problems.length} problem(s)`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}
