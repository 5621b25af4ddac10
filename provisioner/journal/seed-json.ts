/**
 * The `seeds.params` column: a seed record's parameters and labels as JSON (everything but the secret, which
 * is sealed apart, see sealing.ts). Written once when the journal is created, read back for every use.
 *
 * Two layouts, both read forever (STYLE.md rule 12: persistent formats only grow):
 * - current: `{ "otp": otpParamsToJson(...), "label"?, "user"?, "issuer"?, "keyId"?, "manufacturer"? }`;
 * - first (journals written before the seed record carried `otp`): the flat fields
 *   `{ "type", "algorithm", "digits", "periodSec", "t0", "counter", "ocraSuite"?, labels... }` with `t0` and
 *   `counter` as decimal strings, every field present whatever the type.
 */
import { otpParamsFromJson, otpParamsToJson, type OtpParams } from '../../otp/otp-params.ts';
import type { HashAlgorithm } from '../../otp/params.ts';
import type { Secret } from '../../otp/secret.ts';
import { ProvisionFault } from '../faults.ts';
import { otpParamsFromFields, SEED_LABELS, type SeedRecord } from '../seed.ts';

/** The first layout. */
interface FlatParamsJson {
  type: 'hotp' | 'totp' | 'ocra';
  algorithm: HashAlgorithm;
  digits: number;
  periodSec: number;
  t0: string;
  counter: string;
  ocraSuite?: string;
}

type LabelsJson = Partial<Record<(typeof SEED_LABELS)[number], string>>;

/** The `params` JSON of `s` (current layout). */
export function seedParamsToJson(s: SeedRecord): string {
  const j: { otp: Record<string, string | number> } & LabelsJson = { otp: otpParamsToJson(s.otp) };
  for (const k of SEED_LABELS) {
    const v = s[k];
    if (v !== undefined) j[k] = v;
  }
  return JSON.stringify(j);
}

/** The seed record of a row: its serial, its opened secret and its `params` JSON (either layout); wipes the secret if it throws. */
export function seedFromJson(serial: string, secret: Secret, json: string): SeedRecord {
  let out: SeedRecord;
  try {
    const p = JSON.parse(json) as ({ otp: unknown } | FlatParamsJson) & LabelsJson;
    out = { serial, secret, otp: 'otp' in p ? otpParamsFromJson(p.otp) : flatParams(p) };
    for (const k of SEED_LABELS) {
      const v = p[k];
      if (v !== undefined) out[k] = v;
    }
  } catch (e) {
    secret.wipe();
    throw new ProvisionFault('JOURNAL_CORRUPT', `a journal seed has unreadable parameters (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  return out;
}

function flatParams(p: FlatParamsJson): OtpParams {
  const f = { type: p.type, algorithm: p.algorithm, digits: p.digits, periodSec: p.periodSec, t0Sec: BigInt(p.t0), counter: BigInt(p.counter) };
  return otpParamsFromFields(p.ocraSuite === undefined ? f : { ...f, suite: p.ocraSuite });
}
