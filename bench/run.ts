/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the command line, e.g. `npm run bench otp`)
 * one after another. Each module exports `run(): Promise<void>` and prints its own table of medians and
 * ratios against the alternatives measured in the same run.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
for (const f of files) {
  console.log(`\n## ${f.replace(/\.bench\.ts$/, '')}\n`);
  const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run(): Promise<void> };
  await mod.run();
}
