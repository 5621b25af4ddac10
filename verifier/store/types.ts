/**
 * The store contract (the verifier's persistence port). Implementations: SQLite (sqlite.ts) and PostgreSQL
 * (postgres.ts); test/verifier/store.test.ts runs one contract suite against both.
 *
 * Rules every implementation keeps:
 * - `updateToken` is the only way verification state changes. It reads the row under a write lock (SQLite
 *   BEGIN IMMEDIATE; PostgreSQL SELECT ... FOR UPDATE), calls the pure `decide` synchronously, writes the next
 *   state with a compare-and-set on `version` (UPDATE ... WHERE serial = ? AND version = ?; a miss aborts the
 *   transaction), and appends the audit entry in the SAME transaction. So two concurrent verifications of one
 *   code — in one process or in several sharing the database — can never both accept it, and no decision is
 *   persisted without its audit entry or vice versa.
 * - `registerTokens` is all-or-nothing: on a CONFLICT (serial exists with another secret), SEED_IN_USE or
 *   SEED_REVOKED nothing is written. A NEW serial whose record carries a seed fingerprint is admitted by
 *   domain/lifecycle.ts admitSeed against the live rows and tombstones with the same fingerprint, read in the
 *   same transaction: its counter/lastStep never start below theirs, and a rekey retires the other live rows
 *   (deleted with a tombstone) in that transaction.
 * - `deleteToken` leaves a tombstone (domain/lifecycle.ts tombstoneOf) in the same transaction.
 * - `editToken` changes user, label and windows with a compare-and-set on (uid, version) and bumps version,
 *   like every write: a cached copy of the row (SQLite row cache) can never be written back over it.
 * - Audit entries form one hash chain (domain/audit.ts); appends are serialised through the head row.
 * - Sealed seeds are opaque bytes here; stores never see plaintext.
 */
import type { AuditEntry, AuditFilter, AuditInput } from '../domain/audit.ts';
import type { ApiRole } from '../domain/roles.ts';
import type { Tombstone } from '../domain/lifecycle.ts';
import type { OtpType } from '../../otp/otp-params.ts';
import type { TokenStateName } from '../domain/states.ts';
import type { TokenDynamic, TokenRecord, TokenSource } from '../domain/types.ts';
import type { UserRecord } from '../domain/users.ts';

export interface ApiKeyRecord {
  id: string;
  role: ApiRole;
  /** SHA-256 (hex) of the key's secret part. */
  hash: string;
  label: string | null;
  createdAtMs: number;
  revokedAtMs: number | null;
  /** The key is refused from this instant on (null: no expiry). */
  expiresAtMs: number | null;
  /** Last successful use, written at most once a minute per key (http/auth.ts). */
  lastUsedAtMs: number | null;
}

export interface RegisterOutcome {
  serial: string;
  status: 'created' | 'exists';
  /** Rekey: the serials whose registration of this seed was retired (deleted with a tombstone). */
  retired?: string[];
}

/** The editable metadata of a token (PATCH /v1/tokens/{serial}); every field is written. */
export interface TokenEdit {
  user: string | null;
  label: string | null;
  lookAhead: number | null;
  windowBack: number | null;
  windowForward: number | null;
  resyncWindow: number | null;
}

/** A search of the registry (GET /v1/tokens; the export): every given field must match. Ordered by serial. */
export interface TokenFilter {
  user?: string;
  batch?: string;
  state?: TokenStateName;
  serialPrefix?: string;
  type?: OtpType;
  /** lastUsedAtMs < usedBeforeMs (never-used tokens do not match). */
  usedBeforeMs?: number;
  usedAfterMs?: number;
  neverUsed?: boolean;
  /** Serials in this list (bulk operations; at most MAX_BATCH). */
  serials?: readonly string[];
  /** serial > afterSerial (paging: the last serial of the previous page). */
  afterSerial?: string;
  limit: number;
}

export interface BulkOutcome {
  matched: number;
  changed: number;
}

export interface BatchSummary {
  batchId: string;
  source: TokenSource | null;
  tokens: number;
  byState: Partial<Record<TokenStateName, number>>;
  firstRegisteredAtMs: number;
  lastRegisteredAtMs: number;
}

export interface RegisterOptions {
  /** Serials whose registration may take a seed held under another serial (admin re-key). */
  rekey?: ReadonlySet<string>;
  /** Time of the registration (tombstones of retired rows); default Date.now(). */
  nowMs?: number;
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
    options?: RegisterOptions,
  ): Promise<RegisterOutcome[]>;
  /** Locked read-decide-write of one token (see the module comment). `decide` must be synchronous and pure. */
  updateToken<R>(serial: string, decide: (t: TokenRecord | undefined) => UpdateOutcome<R>): Promise<R>;
  /** Deletes the row and leaves its tombstone (reason recorded); false when there is no such serial. */
  deleteToken(serial: string, audit: AuditInput, reason?: string | null): Promise<boolean>;
  /**
   * Locked read-decide-write of a token's metadata: `decide` (synchronous) returns the edit and its audit entry,
   * or throws (NOT_FOUND, VERSION_MISMATCH, INVALID_TRANSITION) and nothing is written. Returns the record after.
   */
  editToken(serial: string, decide: (t: TokenRecord | undefined) => { edit: TokenEdit; audit: AuditInput }): Promise<TokenRecord>;
  getUser(user: string): Promise<UserRecord | undefined>;
  /**
   * Locked read-decide-write of a user's failure state (domain/users.ts): `decide` (synchronous) returns the
   * next record (null: write nothing) and an audit entry, written in one transaction with a compare-and-set on
   * the user's version.
   */
  updateUser<R>(user: string, decide: (u: UserRecord | undefined) => { next: UserRecord | null; audit: AuditInput | null; value: R }): Promise<R>;
  /**
   * Tokens matching the filter, by serial, at most filter.limit — WITH their sealed seeds (TokenRecord): a
   * caller that shows them over HTTP maps them to metadata (service.ts tokenMetadata); only the local export
   * unseals them.
   */
  listTokens(filter: TokenFilter): Promise<TokenRecord[]>;
  /**
   * One transaction over every token matching `filter` (limit ignored): `decide` (synchronous, pure) returns
   * the next dynamic state or null (unchanged); changed rows are written with a compare-and-set and a version
   * bump (so no cached copy of them is ever accepted again), and ONE audit entry `audit(outcome)` is appended.
   * `dryRun`: only counts, writes nothing.
   */
  bulkUpdate(filter: TokenFilter, decide: (t: TokenRecord) => TokenDynamic | null, audit: (o: BulkOutcome) => AuditInput, dryRun: boolean): Promise<BulkOutcome>;
  batchSummary(batchId: string): Promise<BatchSummary | undefined>;
  /** Tombstones with this seed fingerprint (tests and the export's safety checks). */
  listTombstones(seedFingerprint: string): Promise<Tombstone[]>;
  appendAudit(input: AuditInput): Promise<AuditEntry>;
  listAudit(filter: AuditFilter): Promise<AuditEntry[]>;
  auditHead(): Promise<{ seq: number; hash: string }>;
  createApiKey(rec: ApiKeyRecord, audit: AuditInput): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, oldest first (records include the hash: callers show only the other fields). */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Sets revokedAtMs (once: a revoked key stays revoked at its first time) and audits; undefined if no such key. */
  revokeApiKey(id: string, atMs: number, audit: AuditInput): Promise<ApiKeyRecord | undefined>;
  /** Records a use (no audit entry: the audit log records what the key did). */
  touchApiKey(id: string, atMs: number): Promise<void>;
  /**
   * Re-seals every seed in one transaction: `reseal(serial, kid, sealed)` returns the new kid and blob.
   * Returns the number of tokens re-sealed.
   */
  resealAll(reseal: (serial: string, kid: string, sealed: Uint8Array) => { kid: string; sealed: Uint8Array }, audit: AuditInput): Promise<number>;
  countTokens(): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
