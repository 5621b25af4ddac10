/**
 * Local administration used by the CLI: API keys, audit-chain verification, master key rotation, and the
 * registry export's read of active tokens with their seeds (run where the master key is; never over HTTP).
 */
import { generateApiKey } from './apikeys.ts';
import { VerifierError } from './errors.ts';
import { createChainChecker, type ChainCheck } from './domain/audit.ts';
import { appendKey, readKeyFile } from './keyfile.ts';
import { createKeyring } from './keyring.ts';
import type { ApiRole } from './domain/roles.ts';
import type { TokenRecord } from './domain/types.ts';
import type { Keyring } from './keyring.ts';
import type { TokenFilter, VerifierStore } from './store/types.ts';

/** Creates a key (printed once by the caller); `expiresAtMs` (null: never) is fixed at creation. */
export async function createApiKey(store: VerifierStore, role: ApiRole, label: string | null, nowMs: number, expiresAtMs: number | null = null): Promise<{ key: string; id: string }> {
  if (expiresAtMs !== null && !(expiresAtMs > nowMs)) throw new VerifierError('INVALID_REQUEST', 'the key would expire before it is created; give a time in the future');
  const { key, record } = generateApiKey(role, label, nowMs, undefined, expiresAtMs);
  await store.createApiKey(record, { atMs: nowMs, actor: 'cli', action: 'api-key-create', serial: null, result: 'ok', detail: { id: record.id, role, expiresAtMs } });
  return { key, id: record.id };
}

/** Walks the whole audit log in seq order (pages of 1000) and checks the chain and the head. */
export async function verifyAuditChain(store: VerifierStore): Promise<ChainCheck> {
  const checker = createChainChecker();
  let after = 0;
  for (;;) {
    const page = await store.listAudit({ afterSeq: after, limit: 1000 });
    for (const e of page) if (!checker.add(e)) return checker.finish(await store.auditHead());
    if (page.length < 1000) break;
    after = page[page.length - 1]!.seq;
  }
  return checker.finish(await store.auditHead());
}

/**
 * Appends a new master key to the key file and re-seals every seed under it in one transaction. Old keys stay
 * in the file: running servers reload it within a second, but one may still seal a registration under the old
 * key until then, so removing a retired key is a manual step once every instance has restarted.
 */
export async function rotateMasterKey(store: VerifierStore, keyFile: string, nowMs: number): Promise<{ kid: string; tokens: number }> {
  const oldRing = createKeyring(readKeyFile(keyFile));
  const { keys, kid } = appendKey(keyFile, nowMs);
  const ring = createKeyring(keys);
  const tokens = await store.resealAll(
    (serial, oldKid, sealed) => {
      const seed = oldRing.open(serial, oldKid, sealed);
      try {
        return ring.seal(serial, seed);
      } finally {
        seed.fill(0);
      }
    },
    { atMs: nowMs, actor: 'cli', action: 'rotate-key', serial: null, result: 'ok', detail: { kid } },
  );
  return { kid, tokens };
}

/** One active token of the registry with its unsealed seed, for `verifier export`. */
export interface ExportedToken {
  /**
   * The row as stored: `record.counter` is the NEXT counter the verifier expects (HOTP; write it as the
   * exported counter), `record.lastStep` the last accepted TOTP step (null if none), `record.otp` the static
   * parameters (use `record.counter`, never `record.otp.counter`).
   */
  record: TokenRecord;
  /** The seed. The caller owns it and must wipe it (`seed.fill(0)`) as soon as it is written. */
  seed: Uint8Array;
}

/**
 * Every ACTIVE token (never disabled, locked, lost or revoked) matching `filter`, by serial, in pages of
 * `pageSize`, each with its seed unsealed by `keyring` (e.g. `createKeyring(readKeyFile(masterKeyFile))`).
 * Each page is read at once, so a token's counter is current as of its page; verifications running meanwhile
 * can only move it forward (an export written from it never accepts a code the verifier accepted before).
 */
export async function* activeTokensWithSeeds(
  store: VerifierStore,
  keyring: Keyring,
  filter: { batch?: string; user?: string } = {},
  pageSize = 500,
): AsyncGenerator<ExportedToken> {
  let after: string | undefined;
  for (;;) {
    const f: TokenFilter = { ...filter, state: 'active', limit: pageSize, ...(after !== undefined ? { afterSerial: after } : {}) };
    const page = await store.listTokens(f);
    for (const record of page) yield { record, seed: keyring.open(record.serial, record.seedKid, record.seedSealed) };
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.serial;
  }
}
