/** Opens the store named by a --db value: a postgres:// or postgresql:// URL, otherwise a SQLite file path. */
import { openPostgresStore, type PostgresOptions } from './postgres.ts';
import { openSqliteStore, type SqliteOptions } from './sqlite.ts';
import type { VerifierStore } from './types.ts';

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

export async function openStore(db: string, options: { sqlite?: SqliteOptions; postgres?: PostgresOptions } = {}): Promise<VerifierStore> {
  return isPostgresUrl(db) ? openPostgresStore(db, options.postgres) : openSqliteStore(db, options.sqlite);
}
