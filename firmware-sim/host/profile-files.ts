/**
 * Device profiles read from a directory of JSON files (docs/simulator.md "Profiles"): one profile per
 * NAME.json, parsed as strictly as the built-in ones (profiles.ts), whose `name` must match the file name.
 * The built-in profiles need no file system (profiles.ts imports them); this reader is for profile files on
 * disk, such as firmware-sim/profiles/ itself (test/sim/profiles.test.ts checks it against the built-ins).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimError } from '../errors.ts';
import { parseNamedProfile, type Profile } from '../profiles.ts';

/** Every NAME.json in `dir`, parsed, sorted by name. INVALID_PROFILE for a file that is not a valid profile. */
export function loadProfileDir(dir: string): Profile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (e) {
    throw new SimError('IO', `profiles: cannot read the directory ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return names.map((file) => {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (e) {
      throw new SimError('INVALID_PROFILE', `profile ${file}: not valid JSON (${(e as Error).message})`);
    }
    return parseNamedProfile(json, file, file.slice(0, -'.json'.length));
  });
}
