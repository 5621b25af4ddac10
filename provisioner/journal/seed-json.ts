/**
 * The `seeds.params` column: a seed record's parameters and labels as JSON (everything but the secret, which
 * is sealed apart, see sealing.ts). Written once when the journal is created, read back for every use.
 */
import type { HashAlgorithm } from '../../otp/params.ts';
import type { Secret } from '../../otp/secret.ts';
import { ProvisionFault } from '../faults.ts';
import type { SeedRecord, SeedType } from '../seed.ts';

interface SeedParamsJson {
  type: SeedType;
  algorithm: HashAlgorithm;
  digits: number;
  periodSec: number;
  t0: string;
  counter: string;
  ocraSuite?: string;
  label?: string;
  user?: string;
  issuer?: string;
  keyId?: string;
  manufacturer?: string;
}

const OPTIONAL = ['ocraSuite', 'label', 'user', 'issuer', 'keyId', 'manufacturer'] as const;

/** The `params` JSON of `s`. */
export function seedParamsToJson(s: SeedRecord): string {
  const params: SeedParamsJson = { type: s.type, algorithm: s.algorithm, digits: s.digits, periodSec: s.periodSec, t0: s.t0.toString(), counter: s.counter.toString() };
  for (const k of OPTIONAL) {
    const v = s[k];
    if (v !== undefined) params[k] = v;
  }
  return JSON.stringify(params);
}

/** The seed record of a row: its serial, its opened secret and its `params` JSON. */
export function seedFromJson(serial: string, secret: Secret, json: string): SeedRecord {
  let p: SeedParamsJson;
  try {
    p = JSON.parse(json) as SeedParamsJson;
  } catch (e) {
    throw new ProvisionFault('JOURNAL_CORRUPT', 'a journal seed has unreadable parameters', { cause: e });
  }
  const out: SeedRecord = { serial, secret, type: p.type, algorithm: p.algorithm, digits: p.digits, periodSec: p.periodSec, t0: BigInt(p.t0), counter: BigInt(p.counter) };
  for (const k of OPTIONAL) {
    const v = p[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
