#!/usr/bin/env node
/**
 * Entry point of the `tokenforge` command. `npm run build` (tools/build.ts) bundles it into dist/tokenforge.js,
 * the file that package.json `bin` names; cli/dev.js runs it from the sources through tsx instead.
 */
import { main } from './main.ts';

// `tokenforge ... | head` closes stdout early: end quietly, as Unix tools do, instead of an EPIPE trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

await main(process.argv.slice(2));
