/**
 * Files of the tokenforge checkout that the CLI reads at run time and serves as they are (docs/openapi.json).
 *
 * They are found from the package root, the nearest directory above this module whose package.json is named
 * "tokenforge": that is the checkout both when the sources run (cli/) and when the bundle does (dist/), where
 * a path relative to this module's own file would point elsewhere. Data that is only parsed is imported as a
 * JSON module instead, so that the bundle carries it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'tokenforge';

let root: string | undefined;

/** The directory of the nearest package.json named tokenforge above this module. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const here = fileURLToPath(import.meta.url);
  for (let dir = dirname(here); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package (a package.json named "${PACKAGE_NAME}") above ${here}`);
  }
}

/** docs/openapi.json as its bytes are on disk: the verifier serves it verbatim at /openapi.json. */
export function openapiText(): string {
  const file = join(packageRoot(), 'docs', 'openapi.json');
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the API description ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
