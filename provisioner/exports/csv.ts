/**
 * CSV export in the format the CSV source reads (provisioner/sources/csv.ts), so an export loads back
 * unchanged: serial,secret_hex,type,algorithm,digits,period,counter,t0,ocra_suite,user,label,issuer.
 * The secrets are in clear: the file is written 0600 and is meant for a system that imports and deletes it.
 */
import { otpAlgorithm, otpDigits } from '../../otp/otp-params.ts';
import { checkSeedRecord, seedCounter, type SeedRecord } from '../seed.ts';
import { csvCell } from '../sources/csv.ts';

export const CSV_EXPORT_HEADER = ['serial', 'secret_hex', 'type', 'algorithm', 'digits', 'period', 'counter', 't0', 'ocra_suite', 'user', 'label', 'issuer'] as const;

export function seedsToCsv(records: readonly SeedRecord[]): string {
  const lines = [CSV_EXPORT_HEADER.join(',')];
  for (const r of records) {
    checkSeedRecord(r);
    const p = r.otp;
    lines.push(
      [
        r.serial,
        Buffer.from(r.secret.exposeSecretBytes()).toString('hex'),
        p.type,
        otpAlgorithm(p).toLowerCase(),
        String(otpDigits(p)),
        p.type === 'totp' ? String(p.periodSec) : '',
        p.type === 'totp' ? '' : seedCounter(r).toString(),
        p.type === 'totp' ? p.t0Sec.toString() : '',
        p.type === 'ocra' ? p.suite : '',
        r.user ?? '',
        r.label ?? '',
        r.issuer ?? '',
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}
