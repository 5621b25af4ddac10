/**
 * The migrations registry (STYLE.md rule 12: persistent formats only grow). Each migration has a permanent id,
 * is applied once in a transaction, and is recorded in schema_migrations; ids are never reused or edited after
 * release (the first release is still ahead, so 1 is still being shaped) — add a new entry instead. Both dialects are kept side by side so they cannot drift apart.
 *
 * Column notes: counters and time steps are 64-bit unsigned values stored as decimal TEXT (SQLite INTEGER is
 * signed 64-bit); times are milliseconds since the epoch; seed_sealed is AES-256-GCM output (keyring.ts).
 */

export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sqlite: readonly string[];
  readonly postgres: readonly string[];
}

const tokenColumns = (blob: string): string => `
  serial TEXT PRIMARY KEY,
  uid TEXT NOT NULL UNIQUE,
  user_name TEXT,
  label TEXT,
  type TEXT NOT NULL CHECK (type IN ('hotp', 'totp', 'ocra')),
  algorithm TEXT NOT NULL,
  digits INTEGER NOT NULL,
  period_sec INTEGER NOT NULL,
  t0 TEXT NOT NULL,
  ocra_suite TEXT,
  counter TEXT NOT NULL,
  last_step TEXT,
  drift_steps INTEGER NOT NULL,
  fail_count INTEGER NOT NULL,
  throttled_until_ms BIGINT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'disabled', 'locked')),
  pending_resync TEXT,
  pending_at_ms BIGINT NOT NULL,
  last_used_at_ms BIGINT,
  look_ahead INTEGER,
  window_back INTEGER,
  window_forward INTEGER,
  resync_window INTEGER,
  seed_kid TEXT NOT NULL,
  seed_sealed ${blob} NOT NULL,
  version BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL`;

const common = (dialect: 'sqlite' | 'postgres'): string[] => [
  // SQLite: WITHOUT ROWID keeps a token in one b-tree keyed by serial (one lookup per verification), and
  // "INTEGER PRIMARY KEY" makes audit.seq the rowid itself (no separate index) — the hot path's two writes.
  `CREATE TABLE tokens (${tokenColumns(dialect === 'sqlite' ? 'BLOB' : 'BYTEA')})${dialect === 'sqlite' ? ' WITHOUT ROWID' : ''}`,
  `CREATE INDEX tokens_user ON tokens (user_name)`,
  `CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'verify')),
    hash TEXT NOT NULL,
    label TEXT,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT)`,
  `CREATE TABLE audit (
    seq ${dialect === 'sqlite' ? 'INTEGER' : 'BIGINT'} PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    serial TEXT,
    result TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL)`,
  `CREATE INDEX audit_serial ON audit (serial, seq)`,
  `CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)`,
  `INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${'0'.repeat(64)}')`,
];

/** Columns migration 2 adds to tokens (issue 11: seed identity, batches, lifecycle states). */
const LIFECYCLE_COLUMNS = [
  ['seed_fp', 'TEXT'],
  ['batch_id', 'TEXT'],
  ['source_fingerprint', 'TEXT'],
  ['source_name', 'TEXT'],
  ['state_reason', 'TEXT'],
  ['lost_at_ms', 'BIGINT'],
  ['revoked_at_ms', 'BIGINT'],
] as const;

const STATES_V2 = `state IN ('active', 'disabled', 'locked', 'lost', 'revoked')`;

const V1_TOKEN_COLUMNS = [
  'serial', 'uid', 'user_name', 'label', 'type', 'algorithm', 'digits', 'period_sec', 't0', 'ocra_suite', 'counter', 'last_step',
  'drift_steps', 'fail_count', 'throttled_until_ms', 'state', 'pending_resync', 'pending_at_ms', 'last_used_at_ms', 'look_ahead',
  'window_back', 'window_forward', 'resync_window', 'seed_kid', 'seed_sealed', 'version', 'created_at_ms', 'updated_at_ms',
].join(', ');

/** Tables of migration 2 that both dialects create alike. */
const lifecycleTables = (): string[] => [
  // What a deleted registration leaves: never the seed, only its keyed fingerprint and the counter/step it had
  // reached, so that registering the seed again never moves a counter backwards (domain/lifecycle.ts).
  `CREATE TABLE tombstones (
    uid TEXT PRIMARY KEY,
    serial TEXT NOT NULL,
    seed_fp TEXT NOT NULL,
    counter TEXT NOT NULL,
    last_step TEXT,
    reason TEXT,
    deleted_at_ms BIGINT NOT NULL,
    was_revoked INTEGER NOT NULL)`,
  `CREATE INDEX tombstones_seed_fp ON tombstones (seed_fp)`,
  `CREATE INDEX tokens_seed_fp ON tokens (seed_fp)`,
  `CREATE INDEX tokens_batch ON tokens (batch_id)`,
  // Consecutive failures of verify-by-user across all the user's tokens (NIST SP 800-63B 5.2.2).
  `CREATE TABLE users (
    user_name TEXT PRIMARY KEY,
    fail_count INTEGER NOT NULL,
    throttled_until_ms BIGINT NOT NULL,
    locked_at_ms BIGINT,
    version BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL)`,
  `ALTER TABLE api_keys ADD COLUMN expires_at_ms BIGINT`,
  `ALTER TABLE api_keys ADD COLUMN last_used_at_ms BIGINT`,
];

/** SQLite cannot change a CHECK in place: the tokens table is rebuilt with the wider state set. */
const lifecycleSqlite = (): string[] => [
  `CREATE TABLE tokens_v2 (${tokenColumns('BLOB').replace(/state IN \([^)]*\)/, STATES_V2)},
  ${LIFECYCLE_COLUMNS.map(([c, t]) => `${c} ${t}`).join(',\n  ')}) WITHOUT ROWID`,
  `INSERT INTO tokens_v2 (${V1_TOKEN_COLUMNS}) SELECT ${V1_TOKEN_COLUMNS} FROM tokens`,
  `DROP TABLE tokens`,
  `ALTER TABLE tokens_v2 RENAME TO tokens`,
  `CREATE INDEX tokens_user ON tokens (user_name)`,
  ...lifecycleTables(),
];

const lifecyclePostgres = (): string[] => [
  `ALTER TABLE tokens DROP CONSTRAINT tokens_state_check`,
  `ALTER TABLE tokens ADD CONSTRAINT tokens_state_check CHECK (${STATES_V2})`,
  `ALTER TABLE tokens ${LIFECYCLE_COLUMNS.map(([c, t]) => `ADD COLUMN ${c} ${t}`).join(', ')}`,
  ...lifecycleTables(),
];

export const MIGRATIONS: readonly Migration[] = [
  { id: 1, name: 'tokens, api keys, hash-chained audit log', sqlite: common('sqlite'), postgres: common('postgres') },
  { id: 2, name: 'lifecycle: seed fingerprints, tombstones, batches, lost/revoked, users, API key expiry', sqlite: lifecycleSqlite(), postgres: lifecyclePostgres() },
];
