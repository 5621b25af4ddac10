/**
 * The real PAM stack for interop tests: a temporary /etc/pam.d service that runs libpam-oath's pam_oath.so on a
 * users file, driven by `pamtester`. Tests that need it skip themselves when /etc/pam.d is not writable or
 * pamtester is missing (tools/test-env.sh installs it as root).
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './pskc.helpers.ts';

const PAM_DIR = '/etc/pam.d';

export const canUsePam = (() => {
  try {
    accessSync(PAM_DIR, constants.W_OK);
    accessSync('/usr/bin/pamtester', constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

export interface PamService {
  readonly name: string;
  /** Writes the service file (pam_oath with `usersFile`, window 20). */
  install(): void;
  remove(): void;
  /** pamtester authenticate, the code typed at the prompt. */
  auth(user: string, code: string): ReturnType<typeof run>;
}

/** A uniquely named service; `origin` names the test file in the service file's comment. */
export function pamService(prefix: string, usersFile: string, origin: string): PamService {
  const name = `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
  return {
    name,
    install: () => writeFileSync(join(PAM_DIR, name), `# temporary service of tokenforge's ${origin}\nauth requisite pam_oath.so usersfile=${usersFile} window=20\naccount required pam_permit.so\n`),
    remove: () => rmSync(join(PAM_DIR, name), { force: true }),
    auth: (user, code) => run('pamtester', [name, user, 'authenticate'], `${code}\n`),
  };
}
