/**
 * vitest global setup: builds the CLI (tools/build.ts) before any test runs, so that the tests that run
 * `tokenforge` as a process run what users run (dist/tokenforge.js, package.json `bin`) and never a build
 * older than the sources.
 */
import { resolve } from 'node:path';
import { buildCli } from '../tools/build.ts';

export default async function setup(): Promise<void> {
  await buildCli(resolve(import.meta.dirname, '..'));
}
