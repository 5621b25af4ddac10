/**
 * Builds the `tokenforge` command: cli/bin.ts and everything it imports, bundled by esbuild into dist/ as ESM
 * with code splitting. dist/tokenforge.js (package.json `bin`) holds the entry and the command registry; each
 * command's `import()` in cli/commands/index.ts becomes its own chunk, so a run loads only the code of the
 * command it runs, as the sources do.
 *
 * Packages with native parts or optional native add-ons (better-sqlite3, serialport, node-pty, pg with its
 * optional pg-native, cbor-x with its optional cbor-extract) stay out of the bundle and load from node_modules.
 * yargs is bundled (resolving its ~40 files one by one cost about 90 ms of every start), but its platform shim
 * finds its locale files and the application's package.json (`--version`, the "yargs" parser settings) from
 * its own file through import.meta.url; the build points that at the installed node_modules/yargs file, so
 * those lookups give what they give unbundled (YARGS_SHIM).
 * JSON imported as a module (`with { type: 'json' }`: built-in profiles, vectors, scenarios) is inlined; files the
 * CLI serves as they are (docs/openapi.json) are found from the package root (cli/package-files.ts). No module
 * finds data next to its own file, so nothing is copied beside the chunks.
 *
 *   tsx tools/build.ts      (npm run build; `npm install` runs it as the prepare script)
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const OUT_DIR = 'dist';
const ENTRY_NAME = 'tokenforge';

const EXTERNAL = ['better-sqlite3', 'serialport', '@serialport/*', 'node-pty', 'pg', 'pg-native', 'cbor-x', 'cbor-extract'];

const YARGS_SHIM = /[\\/]node_modules[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/;

/**
 * Makes the bundled yargs shim resolve paths from its installed file, not from the chunk it lands in. The path
 * is taken through the package's own node_modules (esbuild hands over real paths; node_modules may be a link).
 */
function yargsShimAtItsInstalledPath(root: string, outdir: string): Plugin {
  const modules = join(root, 'node_modules');
  const realModules = realpathSync(modules);
  return {
    name: 'yargs-shim-path',
    setup(b) {
      b.onLoad({ filter: YARGS_SHIM }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta.url')) throw new Error(`build: ${args.path} no longer reads import.meta.url; check how yargs finds its locales`);
        const installed = args.path.startsWith(realModules + sep) ? join(modules, relative(realModules, args.path)) : args.path;
        const url = `new URL(${JSON.stringify(relative(outdir, installed).split(sep).join('/'))}, import.meta.url)`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'js' };
      });
    },
  };
}

export interface BuildResult {
  entry: string;
  files: number;
  ms: number;
}

/**
 * Rebuilds `root`/dist. Each file is written beside its place and renamed into it, so that a CLI process
 * started meanwhile (a test run in the same checkout) reads either the old file or the new one, never half of
 * one; files of an earlier build that this one did not write are removed afterwards.
 */
export async function buildCli(root: string): Promise<BuildResult> {
  const t0 = performance.now();
  const outdir = join(root, OUT_DIR);
  const result = await build({
    absWorkingDir: root,
    entryPoints: { [ENTRY_NAME]: 'cli/bin.ts' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    plugins: [yargsShimAtItsInstalledPath(root, outdir)],
    chunkNames: '[name]-[hash]',
    // Error classes name themselves after their class (otp/errors.ts: this.name = new.target.name).
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(outdir, { recursive: true });
  const written = new Set<string>();
  for (const f of result.outputFiles) {
    if (dirname(f.path) !== outdir) throw new Error(`build: ${f.path} is outside ${outdir}; chunks must sit beside the entry`);
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
    written.add(basename(f.path));
  }
  for (const name of readdirSync(outdir)) if (!written.has(name)) rmSync(join(outdir, name), { recursive: true, force: true });
  const entry = join(outdir, `${ENTRY_NAME}.js`);
  if (entry !== binPath(root)) throw new Error(`build: wrote ${entry}, but package.json bin names ${binPath(root)}`);
  chmodSync(entry, 0o755);
  const files = result.outputFiles.filter((f) => f.path.endsWith('.js')).length;
  return { entry, files, ms: Math.round(performance.now() - t0) };
}

function binPath(root: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { tokenforge: string } };
  return join(root, manifest.bin.tokenforge);
}

/**
 * The built command, the file package.json `bin` names (what `npm install` builds and links as `tokenforge`),
 * for tests and tools that run the CLI as users do; a clear error when it has not been built.
 */
export function builtCli(root: string): string {
  const file = binPath(root);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build (npm install runs it)`);
  return file;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const r = await buildCli(root);
  console.log(`build: ${r.entry} and ${r.files - 1} chunk(s) in ${r.ms} ms`);
}
