/**
 * `tokenforge verifier ...`: the verification server and its local administration.
 *   serve       run the HTTP API (SQLite file by default, or --db postgres://...)
 *   keys create create an API key (printed once; only its hash is stored)
 *   audit verify  check the hash chain of the audit log
 *   rotate-key  add a new master key and re-seal every seed under it
 *   export      the active tokens as a pam_oath users file, PSKC or CSV (verifier-export.ts)
 * and, against a running server over its admin API (verifier-admin.ts): tokens, batch, recovery, keys
 * list|revoke.
 */
import type { Argv, CommandModule } from 'yargs';
import { createApiKey, rotateMasterKey, verifyAuditChain } from '../../verifier/admin.ts';
import { startApp } from '../../verifier/app.ts';
import { DEFAULT_POLICY, MAX_FAILURES_LIMIT } from '../../verifier/domain/types.ts';
import { VerifierError } from '../../verifier/errors.ts';
import type { Logger } from '../../verifier/http/handler.ts';
import { openStore } from '../../verifier/store/open.ts';
import { UsageError } from '../errors.ts';
import { integer, optionalInteger } from '../flags.ts';
import { openapiText } from '../package-files.ts';
import { single } from '../flags.ts';
import { batchCommand, durationSec, keysList, keysRevoke, tokensCommand } from './verifier-admin.ts';
import { exportCommand } from './verifier-export.ts';

const DEFAULT_DB = 'tokenforge-verifier.db';
const DEFAULT_KEY_FILE = 'tokenforge-verifier.key';

const dbOption = {
  type: 'string',
  default: DEFAULT_DB,
  describe: 'SQLite database file, or a postgres://user@host:port/db URL (add ?schema=NAME to use a schema)',
} as const;

const log: Logger = (level, message, fields) => {
  if (level === 'info') {
    process.stderr.write(`${message}\n`);
    return;
  }
  const extra = fields ? ` ${JSON.stringify(fields)}` : '';
  process.stderr.write(`tokenforge: ${level === 'warn' ? 'warning' : 'error'}: ${message}${extra}\n`);
};

function mapStoreErrors(e: unknown): never {
  if (e instanceof VerifierError && e.code === 'INVALID_REQUEST') throw new UsageError(e.message);
  throw e;
}

interface ServeArgs {
  db: string;
  host: string;
  port: string;
  'master-key-file': string;
  'look-ahead'?: string;
  'window-back'?: string;
  'window-forward'?: string;
  'resync-window'?: string;
  'max-failures'?: string;
  'backoff-ms'?: string;
  'body-limit'?: string;
  'sqlite-sync': 'normal' | 'full';
  'engine-cache'?: string;
}

const serve: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'Run the verification server (HTTP JSON API; see docs/verifier.md and /openapi.json)',
  builder: (y) =>
    y
      .option('db', dbOption)
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('port', { type: 'string', default: '8470', describe: 'TCP port (0 picks a free one; the bound URL is printed)' })
      .option('master-key-file', { type: 'string', default: DEFAULT_KEY_FILE, describe: 'Master key file (created with mode 0600 on first run)' })
      .option('look-ahead', { type: 'string', describe: `HOTP look-ahead s: counters C..C+s accepted (default ${DEFAULT_POLICY.lookAhead})` })
      .option('window-back', { type: 'string', describe: `TOTP steps accepted behind the expected step (default ${DEFAULT_POLICY.windowBack})` })
      .option('window-forward', { type: 'string', describe: `TOTP steps accepted ahead of the expected step (default ${DEFAULT_POLICY.windowForward})` })
      .option('resync-window', { type: 'string', describe: `Wide window for resync and auto-resync (default ${DEFAULT_POLICY.resyncWindow})` })
      .option('max-failures', { type: 'string', describe: `Consecutive failures that lock a token, 1..${MAX_FAILURES_LIMIT} (default ${DEFAULT_POLICY.maxFailures})` })
      .option('backoff-ms', { type: 'string', describe: `Back-off base after the first ${DEFAULT_POLICY.backoffFreeFailures} failures, doubling per failure; 0 disables (default ${DEFAULT_POLICY.backoffBaseMs})` })
      .option('body-limit', { type: 'string', describe: 'Request body limit in bytes (default 65536; the batch route allows 16 MiB)' })
      .option('sqlite-sync', { type: 'string', default: 'normal', describe: 'SQLite synchronous mode: normal survives process crashes, full also power cuts (slower)' })
      .option('engine-cache', { type: 'string', describe: 'Tokens whose HOTP engine (decrypted key) is kept in memory (default 10000)' })
      .example('$0 verifier serve', 'SQLite file and master key in the working directory, port 8470')
      .example('$0 verifier serve --db postgres://postgres@127.0.0.1:5432/test --port 0', 'PostgreSQL, any free port') as unknown as Argv<ServeArgs>,
  handler: async (a) => {
    const policy = {
      ...(a['look-ahead'] !== undefined ? { lookAhead: integer(a['look-ahead'], '--look-ahead', { min: 0, max: 1000 }) } : {}),
      ...(a['window-back'] !== undefined ? { windowBack: integer(a['window-back'], '--window-back', { min: 0, max: 1000 }) } : {}),
      ...(a['window-forward'] !== undefined ? { windowForward: integer(a['window-forward'], '--window-forward', { min: 0, max: 1000 }) } : {}),
      ...(a['resync-window'] !== undefined ? { resyncWindow: integer(a['resync-window'], '--resync-window', { min: 1, max: 10_000 }) } : {}),
      ...(a['max-failures'] !== undefined ? { maxFailures: integer(a['max-failures'], '--max-failures', { min: 1, max: MAX_FAILURES_LIMIT }) } : {}),
      ...(a['backoff-ms'] !== undefined ? { backoffBaseMs: integer(a['backoff-ms'], '--backoff-ms', { min: 0, max: 3_600_000 }) } : {}),
    };
    const port = integer(a.port, '--port', { min: 0, max: 65535 });
    if (a['sqlite-sync'] !== 'normal' && a['sqlite-sync'] !== 'full') throw new UsageError('--sqlite-sync must be normal or full');
    const bodyLimit = optionalInteger(a['body-limit'], '--body-limit', { min: 1024, max: 64 * 1024 * 1024 });
    const engineCacheSize = optionalInteger(a['engine-cache'], '--engine-cache', { min: 1, max: 10_000_000 });
    const app = await startApp({
      db: a.db,
      masterKeyFile: a['master-key-file'],
      host: a.host,
      port,
      policy,
      sqliteSynchronous: a['sqlite-sync'],
      openapi: openapiText(),
      log,
      ...(bodyLimit !== undefined ? { bodyLimit } : {}),
      ...(engineCacheSize !== undefined ? { engineCacheSize } : {}),
    }).catch(mapStoreErrors);
    process.stdout.write(`listening on ${app.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (sig: string): void => {
        process.stderr.write(`${sig}: shutting down (finishing in-flight requests)\n`);
        app.close().then(resolve, (e: unknown) => {
          log('error', `shutdown: ${e instanceof Error ? e.message : String(e)}`);
          resolve();
        });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
    process.stderr.write('stopped\n');
  },
};

interface KeysArgs {
  db: string;
  role: 'admin' | 'verify';
  label?: string;
  'expires-in'?: string;
  'expires-at'?: string;
}

/** The key's expiry from --expires-in DURATION or --expires-at ISO (not both), or null (never expires). */
function expiryOf(a: KeysArgs, nowMs: number): number | null {
  const inSec = durationSec(single(a['expires-in'], '--expires-in'), 'expires-in');
  const at = single(a['expires-at'], '--expires-at');
  if (inSec !== undefined && at !== undefined) throw new UsageError('give --expires-in or --expires-at, not both');
  if (inSec !== undefined) return nowMs + inSec * 1000;
  if (at === undefined) return null;
  const ms = Date.parse(at);
  if (!/^\d{4}-\d{2}-\d{2}/.test(at) || Number.isNaN(ms)) throw new UsageError(`--expires-at: "${at.slice(0, 40)}" is not an ISO time such as 2030-06-30T00:00:00Z`);
  if (ms <= nowMs) throw new UsageError('--expires-at: that time has passed; give a time in the future');
  return ms;
}

const keysCreate: CommandModule<object, KeysArgs> = {
  command: 'create',
  describe: 'Create an API key; it is printed once on stdout and only its SHA-256 is stored',
  builder: (y) =>
    y
      .option('db', dbOption)
      .option('role', { type: 'string', demandOption: true, describe: 'admin (every route) or verify (/v1/verify and resync only)' })
      .option('label', { type: 'string', describe: 'Free text to recognise the key in the audit log' })
      .option('expires-in', { type: 'string', describe: 'The key stops working after this long: 90s, 15m, 12h, 30d, 2w (default: never)' })
      .option('expires-at', { type: 'string', describe: 'The key stops working at this ISO time (default: never)' })
      .example('$0 verifier keys create --role verify --label "web frontend"', '')
      .example('$0 verifier keys create --role admin --label laptop --expires-in 30d', '') as unknown as Argv<KeysArgs>,
  handler: async (a) => {
    if (a.role !== 'admin' && a.role !== 'verify') throw new UsageError(`--role must be admin or verify, not "${String(a.role).slice(0, 32)}"`);
    const now = Date.now();
    const expiresAtMs = expiryOf(a, now);
    const store = await openStore(a.db).catch(mapStoreErrors);
    try {
      const { key, id } = await createApiKey(store, a.role, a.label ?? null, now, expiresAtMs);
      process.stdout.write(`${key}\n`);
      process.stderr.write(`created ${a.role} key ${id}; store it now — it cannot be shown again\n`);
    } finally {
      await store.close();
    }
  },
};

const keys: CommandModule = {
  command: 'keys <action>',
  describe: 'Manage API keys: create (local, on the database), list and revoke (over the admin API)',
  builder: (y) => y.command(keysCreate as unknown as CommandModule).command(keysList).command(keysRevoke).demandCommand(1, 'Name an action: create, list, revoke'),
  handler: () => undefined,
};

const auditVerify: CommandModule<object, { db: string }> = {
  command: 'verify',
  describe: 'Check the hash chain of the audit log; exit 1 and name the first bad entry if it was altered',
  builder: (y) => y.option('db', dbOption) as unknown as Argv<{ db: string }>,
  handler: async (a) => {
    const store = await openStore(a.db).catch(mapStoreErrors);
    try {
      const r = await verifyAuditChain(store);
      if (!r.ok) throw new VerifierError('AUDIT_BROKEN', `audit chain broken at entry ${r.brokenAt}: ${r.problem}`);
      const head = await store.auditHead();
      process.stdout.write(`audit log OK: ${r.entries} entries, head ${head.seq} ${head.hash}\n`);
    } finally {
      await store.close();
    }
  },
};

const audit: CommandModule = {
  command: 'audit <action>',
  describe: 'Audit log tools',
  builder: (y) => y.command(auditVerify as unknown as CommandModule).demandCommand(1, 'Name an action: verify'),
  handler: () => undefined,
};

const rotateKey: CommandModule<object, { db: string; 'master-key-file': string }> = {
  command: 'rotate-key',
  describe: 'Add a new master key to the key file and re-encrypt every stored seed under it (one transaction)',
  builder: (y) =>
    y
      .option('db', dbOption)
      .option('master-key-file', { type: 'string', default: DEFAULT_KEY_FILE, describe: 'Master key file' }) as unknown as Argv<{ db: string; 'master-key-file': string }>,
  handler: async (a) => {
    const store = await openStore(a.db).catch(mapStoreErrors);
    try {
      const r = await rotateMasterKey(store, a['master-key-file'], Date.now());
      process.stdout.write(`re-encrypted ${r.tokens} seeds under new master key ${r.kid}\n`);
      process.stderr.write('older keys stay in the key file so that servers still running can read what they wrote; running servers pick up the new key within a second\n');
    } finally {
      await store.close();
    }
  },
};

export const verifierCommand: CommandModule = {
  command: 'verifier <command>',
  describe: 'The verification server: serve, tokens, batch, keys, audit verify, rotate-key, export',
  builder: (y) =>
    y
      .command(serve as unknown as CommandModule)
      .command(keys)
      .command(audit)
      .command(rotateKey as unknown as CommandModule)
      .command(exportCommand as unknown as CommandModule)
      .command(tokensCommand)
      .command(batchCommand)
      .demandCommand(1, 'Name a verifier command: serve, tokens, batch, recovery, keys, audit, rotate-key, export'),
  handler: () => undefined,
};
