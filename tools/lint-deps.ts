/**
 * Dependency-direction lint (DESIGN.md "Layout and dependency direction").
 *
 *   otp <- protocol <- firmware-sim;  otp, protocol <- provisioner;  otp <- verifier;
 *   otp, protocol <- conformance;  cli, test, bench, tools -> everything.
 *
 * Also: no layer below cli/ reads process.argv; test-only modules (TEST_ONLY) are imported only from the folders
 * listed for them; and in a layer with a functional core (SHELLS) only its shell sub-folders reach the OS
 * (OS_MODULES) or ambient effects (AMBIENT: process.*, the wall clock, randomness, timers), STYLE.md rule 1.
 * Run as `npm run lint`; test/tools/lint-deps.test.ts runs it too.
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

/** Test doubles: module folder -> the top-level folders that may import it (besides the folder itself). */
export const TEST_ONLY: Record<string, readonly string[]> = {
  'firmware-sim/testing': ['test', 'bench'],
};

/**
 * Functional core, thin shell: layer -> its sub-folders that may use OS_MODULES and AMBIENT. Every other file
 * of the layer is core. Extend it per layer (e.g. verifier: ['store', 'http']).
 */
export const SHELLS: Record<string, readonly string[]> = {
  'firmware-sim': ['host'],
};

/**
 * Layers whose core may keep time and draw randomness (the host-side token client's timeouts, wrapping's
 * ephemeral keys) but must not reach the OS: layer -> the sub-folders or files that may import OS_MODULES.
 */
export const OS_EDGES: Record<string, readonly string[]> = {
  otp: ['wasm/build.ts'],
  protocol: ['links'],
};

/** Modules that reach the operating system, with or without `node:` (a name covers its sub-paths: fs/promises). */
export const OS_MODULES: readonly string[] = [
  'fs', 'net', 'child_process', 'os', 'dgram', 'http', 'https', 'tls', 'dns',
  'serialport', '@serialport', 'node-pty', 'better-sqlite3', 'pg',
];

/** Ambient effects a core file must take as ports instead (matched in code, comments removed). */
export const AMBIENT: readonly { what: string; re: RegExp }[] = [
  { what: 'process.*', re: /\bprocess\s*\./ },
  { what: 'Date.now()', re: /\bDate\.now\s*\(/ },
  { what: 'new Date() (the wall clock)', re: /\bnew\s+Date\s*\(\s*\)/ },
  { what: 'Math.random()', re: /\bMath\.random\s*\(/ },
  { what: 'the OS CSPRNG (randomBytes, getRandomValues, ...)', re: /\b(?:randomBytes|randomFillSync|randomFill|randomInt|randomUUID|getRandomValues)\b/ },
  { what: 'performance.now()', re: /\bperformance\.now\s*\(/ },
  { what: 'timers', re: /\b(?:setTimeout|setInterval|setImmediate)\s*\(/ },
];

const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

const REQUIRE_RE = /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)|createRequire\([^)]*\)\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

/** Module specifiers a file imports, exports from or requires. */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) out.push((m[1] ?? m[2] ?? m[3])!);
  for (const m of text.matchAll(REQUIRE_RE)) out.push((m[1] ?? m[2])!);
  return out;
}

/** The code without comments (strings are kept; a '//' inside a string may cut a line short, never add to it). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const posix = (p: string): string => p.split(sep).join('/');
const under = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

function isOsModule(spec: string): boolean {
  const name = spec.startsWith('node:') ? spec.slice(5) : spec;
  return OS_MODULES.some((m) => under(name, m));
}

/** Rule: a test-only module is imported only from its own folder and the folders TEST_ONLY names. */
function lintTestOnly(root: string, file: string, specs: readonly string[], problems: string[]): void {
  const from = posix(relative(root, file));
  for (const spec of specs) {
    if (!spec.startsWith('.')) continue;
    const target = posix(relative(root, resolve(dirname(file), spec)));
    for (const [mod, importers] of Object.entries(TEST_ONLY)) {
      if (!under(target, mod) || under(from, mod) || importers.some((d) => under(from, d))) continue;
      problems.push(`${from}: imports ${spec} (${mod}/, test doubles), but only ${importers.join(', ')} may`);
    }
  }
}

/** Rule: in a layer of SHELLS, a core file (outside the layer's shell folders) uses no OS module and no ambient effect. */
function lintCore(root: string, layer: string, file: string, text: string, problems: string[]): void {
  const shells = SHELLS[layer];
  if (!shells) return;
  const inLayer = posix(relative(join(root, layer), file));
  if (shells.some((d) => under(inLayer, d))) return;
  const from = posix(relative(root, file));
  const where = `only ${shells.map((d) => `${layer}/${d}/`).join(', ')} may`;
  const code = stripComments(text);
  for (const spec of specifiers(code)) if (isOsModule(spec)) problems.push(`${from}: imports ${spec}; ${where}`);
  for (const a of AMBIENT) if (a.re.test(code)) problems.push(`${from}: uses ${a.what}; take it as a port (${where})`);
}

/** Rule: in a layer of OS_EDGES, only the listed sub-folders or files import an OS module. */
function lintOsEdges(root: string, layer: string, file: string, text: string, problems: string[]): void {
  const edges = OS_EDGES[layer];
  if (!edges) return;
  const inLayer = posix(relative(join(root, layer), file));
  if (edges.some((d) => inLayer === d || under(inLayer, d))) return;
  const where = `only ${edges.map((d) => `${layer}/${d}${d.endsWith('.ts') ? '' : '/'}`).join(', ')} may`;
  for (const spec of specifiers(stripComments(text))) if (isOsModule(spec)) problems.push(`${posix(relative(root, file))}: imports ${spec}; ${where}`);
}

export function lintDependencies(root: string): string[] {
  const problems: string[] = [];
  for (const file of walk(root)) {
    const text = readFileSync(file, 'utf8');
    lintTestOnly(root, file, specifiers(stripComments(text)), problems);
    const layer = posix(relative(root, file)).split('/')[0]!;
    if (!(layer in ALLOWED)) continue;
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
    lintCore(root, layer, file, text, problems);
    lintOsEdges(root, layer, file, text, problems);
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
