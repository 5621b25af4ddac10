/**
 * pam_oath / liboath users file (OATH Toolkit, "UsersFile" format from mod_authn_otp):
 *
 *   <type> <user> <pin> <hex key> [<counter>]
 *
 * whitespace separated, '#' starts a comment line. Types liboath 2.6 understands (usersfile.c parse_type):
 * `HOTP`, `HOTP/E/6`, `HOTP/E/7`, `HOTP/E/8` (event based) and `HOTP/T30[/6|7|8]`, `HOTP/T60[/6|7|8]`
 * (time based, 30 or 60 s step, T0 = 0). liboath computes HMAC-SHA1 only and reads keys of at most 32 bytes,
 * so other records are refused here with a reason instead of producing a file that can never verify. The PIN
 * field is `-` (no static password). For HOTP the counter is the next counter the token will use; liboath
 * searches forward from it. We write `HOTP/E/<digits>` and `HOTP/T<period>/<digits>` (always explicit).
 * A TOTP line may carry the last accepted code in the sixth field (`lastOtpFor`): liboath refuses that code and
 * every code of the same or an earlier step in its window (usersfile.c: OATH_REPLAYED_OTP), which is what the
 * format allows instead of a last-step field.
 */
import { ProvisionerError, checkSeedRecord, type SeedRecord } from '../seed.ts';

export interface PamOathOptions {
  /** The user name for a record; default `record.user ?? record.serial`. */
  userFor?: (r: SeedRecord) => string;
  /** TOTP: the last code already accepted for a record (the verifier's last step), written as liboath's last OTP. */
  lastOtpFor?: (r: SeedRecord) => string | undefined;
}

export const PAM_OATH_MAX_KEY_BYTES = 32;

/** One users-file line for `r`, or a ProvisionerError naming why liboath could not use it. */
export function pamOathLine(r: SeedRecord, user: string, lastOtp?: string): string {
  checkSeedRecord(r);
  const refuse = (why: string): never => {
    throw new ProvisionerError('INVALID_ARGUMENT', `pam_oath export: seed ${r.serial}: ${why}`);
  };
  if (!/^[\x21-\x7e]+$/.test(user) || user.startsWith('#')) refuse(`user name "${user.slice(0, 40)}" must be printable ASCII without spaces and must not start with #`);
  const p = r.otp;
  if (p.type === 'ocra') return refuse('pam_oath has no OCRA support');
  if (p.algorithm !== 'SHA1') refuse(`pam_oath only computes HMAC-SHA1, the seed is ${p.algorithm}`);
  if (p.digits < 6 || p.digits > 8) refuse(`pam_oath supports 6, 7 or 8 digits, the seed has ${p.digits}`);
  if (r.secret.length > PAM_OATH_MAX_KEY_BYTES) refuse(`pam_oath reads keys of at most ${PAM_OATH_MAX_KEY_BYTES} bytes, the seed has ${r.secret.length}`);
  const hex = Buffer.from(r.secret.exposeSecretBytes()).toString('hex');
  if (p.type === 'totp') {
    if (p.periodSec !== 30 && p.periodSec !== 60) refuse(`pam_oath supports a 30 or 60 s time step, the seed has ${p.periodSec} s`);
    if (p.t0Sec !== 0n) refuse('pam_oath assumes T0 = 0');
    if (lastOtp !== undefined && !new RegExp(`^[0-9]{${p.digits}}$`).test(lastOtp)) refuse(`last OTP must be ${p.digits} digits`);
    return `HOTP/T${p.periodSec}/${p.digits}\t${user}\t-\t${hex}\t0${lastOtp !== undefined ? `\t${lastOtp}` : ''}`;
  }
  return `HOTP/E/${p.digits}\t${user}\t-\t${hex}\t${p.counter}`;
}

/** The whole users file. All records are checked before any line is produced. */
export function seedsToPamOath(records: readonly SeedRecord[], opts: PamOathOptions = {}): string {
  const userFor = opts.userFor ?? ((r: SeedRecord) => r.user ?? r.serial);
  const users = new Set<string>();
  const lines = ['# pam_oath users file written by tokenforge; keep it mode 0600 (it holds seeds)'];
  for (const r of records) {
    const user = userFor(r);
    if (users.has(user)) throw new ProvisionerError('INVALID_ARGUMENT', `pam_oath export: user "${user.slice(0, 40)}" appears twice; pam_oath would only ever try the first line`);
    users.add(user);
    lines.push(pamOathLine(r, user, opts.lastOtpFor?.(r)));
  }
  return `${lines.join('\n')}\n`;
}
