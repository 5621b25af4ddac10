#!/usr/bin/env node
// Entry point of the `tokenforge` command: registers tsx's loader so that the TypeScript sources run as they
// are (no build step), then hands over to cli/main.ts.
import { register } from 'tsx/esm/api';

// `tokenforge ... | head` closes stdout early: end quietly, as Unix tools do, instead of an EPIPE trace.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

register();
const { main } = await import('./main.ts');
await main(process.argv.slice(2));
