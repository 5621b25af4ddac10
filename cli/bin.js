#!/usr/bin/env node
// Entry point of the `tokenforge` command: registers tsx's loader so that the TypeScript sources run as they
// are (no build step), then hands over to cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
await main(process.argv.slice(2));
