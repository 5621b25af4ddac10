/**
 * Typed access to the vector files in conformance/vectors/. The files are data with their source (STYLE.md
 * rule 11): every row names where it comes from, and tests and the conformance command read the same files.
 * Expected values are only ever read from here, never computed by the code under test.
 *
 * The files are imported as JSON modules, so the bundled CLI (dist/) carries them inside and finds them
 * wherever it runs. Each loader returns a fresh copy: a caller may change what it gets without changing what
 * the next caller reads.
 */
import keyUriJson from './vectors/keyuri.json' with { type: 'json' };
import rfc4226Json from './vectors/rfc4226.json' with { type: 'json' };
import rfc4648Json from './vectors/rfc4648.json' with { type: 'json' };
import rfc6238Json from './vectors/rfc6238.json' with { type: 'json' };
import rfc6287Json from './vectors/rfc6287.json' with { type: 'json' };

export interface Rfc4226Vector {
  source: string;
  counter: number;
  hmac_sha1_hex: string;
  truncated_decimal: number;
  digits: number;
  expected: string;
}

export interface Rfc4226File {
  source: string;
  key_hex: string;
  truncation_example_section_5_4: { source: string; hmac_sha1_hex: string; offset: number; dbc_decimal: number; digits: number; expected: string };
  vectors: Rfc4226Vector[];
}

export interface Rfc6238Vector {
  source: string;
  time: number;
  T_hex: string;
  mode: 'SHA1' | 'SHA256' | 'SHA512';
  key_hex: string;
  digits: number;
  expected: string;
}

export interface Rfc6238File {
  source: string;
  T0: number;
  X: number;
  vectors: Rfc6238Vector[];
}

export interface Rfc6287Vector {
  source: string;
  section: string;
  mode: string;
  suite: string;
  key_hex: string;
  counter: number | null;
  question: string;
  client_challenge?: string;
  server_challenge?: string;
  pin: string | null;
  pin_hash_hex: string | null;
  session: string | null;
  timestamp: string | null;
  timestamp_decimal: number | null;
  expected: string;
}

export interface Rfc6287File {
  source: string;
  vectors: Rfc6287Vector[];
}

export interface KeyUriFile {
  source: string;
  wiki_examples: { uri: string; secret_hex: string }[];
  derived_examples_NOT_FROM_WIKI: { rfc4226_key_base32: string; hotp_uri: string; totp_uri_sha256: string };
}

export interface Rfc4648File {
  source: string;
  vectors: { source: string; ascii: string; base32: string }[];
}

/** The file's data under its declared shape (a JSON module's inferred type widens string unions to string). */
function load<T>(json: unknown): T {
  return structuredClone(json) as T;
}

export const loadRfc4226 = (): Rfc4226File => load(rfc4226Json);
export const loadRfc6238 = (): Rfc6238File => load(rfc6238Json);
export const loadRfc6287 = (): Rfc6287File => load(rfc6287Json);
export const loadKeyUri = (): KeyUriFile => load(keyUriJson);
export const loadRfc4648 = (): Rfc4648File => load(rfc4648Json);

/** The OCRA mode of a row, from the RFC's own section/mode text. */
export type OcraMode = 'one-way' | 'server' | 'client' | 'signature';

export function ocraMode(v: Rfc6287Vector): OcraMode {
  if (v.mode.includes('server computation')) return 'server';
  if (v.mode.includes('client computation')) return 'client';
  if (v.mode.includes('signature')) return 'signature';
  if (v.mode.includes('one-way')) return 'one-way';
  throw new Error(`rfc6287.json: unknown mode "${v.mode}"`);
}
