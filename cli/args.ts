/** Small argument helpers shared by the commands. */
import { UsageError } from './errors.ts';

/** yargs gives a string, or an array when a flag repeats; single-valued flags must not repeat. */
export function single(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length !== 1) throw new UsageError(`${name}: given ${v.length} times; give it once`);
    return String(v[0]);
  }
  return String(v);
}
