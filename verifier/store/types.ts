/**
 * The store contract (the verifier's persistence port). Implementations: SQLite (sqlite.ts) and PostgreSQL
 * (postgres.ts); test/verifier-store.test.ts runs one contract suite against both.
 *
 * Rules every implementation keeps:
 * - `updateToken` is the only way verification state changes. It reads the row under a write lock (SQLite
 *   BEGIN IMMEDIATE; PostgreSQL SELECT ... FOR UPDATE), calls the pure `decide` synchronously, writes the next
 *   state with a compare-and-set on `version` (UPDATE ... WHERE serial = ? AND version = ?; a miss aborts the
 *   transaction), and appends the audit entry in the SAME transaction. So two concurrent verifications of one
 *   code — in one process or in several sharing the database — can never both accept it, and no decision is
 *   persisted without its audit entry or vice versa.
 * - `registerTokens` is all-or-nothing: on a CONFLICT (serial exists with another secret) nothing is written.
 * - Audit entries form one hash chain (domain/audit.ts); appends are serialised through the head row.
 * - Sealed seeds are opaque bytes here; stores never see plaintext.
 */
import type { AuditEntry, AuditFilter, AuditInput } from '../domain/audit.ts';
import type { ApiRole } from '../domain/roles.ts';
import type { TokenDynamic, TokenRecord } from '../domain/types.ts';

export interface ApiKeyRecord {
  id: string;
  role: ApiRole;
  /** SHA-256 (hex) of the key's secret part. */
  hash: string;
  label: string | null;
  createdAtMs: number;
  revokedAtMs: number | null;
}

export interface RegisterOutcome {
  serial: string;
  status: 'created' | 'exists';
}

export interface UpdateOutcome<R> {
  /** null: write nothing (the audit entry is still appended when given). */
  next: TokenDynamic | null;
  audit: AuditInput | null;
  value: R;
}

export interface VerifierStore {
  readonly kind: 'sqlite' | 'postgres';
  getToken(serial: string): Promise<TokenRecord | undefined>;
  /** Tokens of a user, oldest first, at most `limit`. */
  findTokensByUser(user: string, limit: number): Promise<TokenRecord[]>;
  /**
   * All-or-nothing registration. For an existing serial `sameSecret(existing, incoming)` decides: true ->
   * 'exists' (nothing changes), false -> throws VerifierError CONFLICT and the transaction rolls back.
   */
  registerTokens(
    tokens: readonly TokenRecord[],
    sameSecret: (existing: TokenRecord, incoming: TokenRecord) => boolean,
    audit: (outcomes: readonly RegisterOutcome[]) => AuditInput[],
  ): Promise<RegisterOutcome[]>;
  /** Locked read-decide-write of one token (see the module comment). `decide` must be synchronous and pure. */
  updateToken<R>(serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>): Promise<R>;
  deleteToken(serial: string, audit: AuditInput): Promise<boolean>;
  appendAudit(input: AuditInput): Promise<AuditEntry>;
  listAudit(filter: AuditFilter): Promise<AuditEntry[]>;
  auditHead(): Promise<{ seq: number; hash: string }>;
  createApiKey(rec: ApiKeyRecord, audit: AuditInput): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Re-seals every seed in one transaction: `reseal(serial, kid, sealed)` returns the new kid and blob.
   * Returns the number of tokens re-sealed.
   */
  resealAll(reseal: (serial: string, kid: string, sealed: Uint8Array) => { kid: string; sealed: Uint8Array }, audit: AuditInput): Promise<number>;
  countTokens(): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
