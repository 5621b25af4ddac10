/**
 * `tokenforge verifier tokens|batch|keys ...`: the registry operations an operator runs against a
 * running verifier over its admin API (docs/verifier.md has the runbooks; docs/openapi.json the routes).
 *
 *   tokens list [filters]              GET  /v1/tokens            (cursor pagination)
 *   tokens show SERIAL                 GET  /v1/tokens/{serial}
 *   tokens update SERIAL ...           PATCH /v1/tokens/{serial}  (version precondition)
 *   tokens ACTION SERIAL | filters     POST /v1/tokens/{serial}/{action} or /v1/tokens:bulk
 *                                      ACTION: enable disable unlock lost revoke
 *   tokens delete SERIAL               DELETE /v1/tokens/{serial} (a tombstone stays)
 *   batch show|revoke BATCH            GET /v1/batches/{id}, POST /v1/tokens:bulk
 *   keys list | keys revoke ID         GET /v1/keys, POST /v1/keys/{id}/revoke
 *
 * Every command takes --url, the API key from --api-key-file or TOKENFORGE_API_KEY (cli/verifier-client.ts),
 * and --json (the server's answer as one JSON line) instead of the table. Exit 0 ok, 1 the server refused or
 * did not answer, 2 a usage error found before any request (nothing was sent, nothing changed).
 */
import type { Argv, CommandModule } from 'yargs';
import { optionalInteger, single } from '../flags.ts';
import { UsageError } from '../errors.ts';
import { apiKeyFrom, createVerifierClient, table, verifierUrl, type ServerError, type VerifierClient } from '../verifier-client.ts';

type A = Record<string, unknown>;

export const TOKEN_STATE_NAMES = ['active', 'disabled', 'locked', 'lost', 'revoked'] as const;
export const TOKEN_ACTIONS = ['enable', 'disable', 'unlock', 'lost', 'revoke'] as const;
type TokenAction = (typeof TOKEN_ACTIONS)[number];
const PAST: Record<TokenAction, string> = { enable: 'enabled', disable: 'disabled', unlock: 'unlocked', lost: 'marked lost', revoke: 'revoked' };

const str = (a: A, name: string): string | undefined => single(a[name], `--${name}`);

function oneOf<T extends string>(v: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name}: "${v.slice(0, 40)}" must be one of ${allowed.join(', ')}`);
  return v as T;
}

/** An integer flag through the shared parser (cli/flags.ts), with the flag's name as users type it. */
function intOf(v: string | undefined, name: string, min: number, max: number): number | undefined {
  return optionalInteger(v, `--${name}`, { min, max });
}

function isoOf(v: string | undefined, name: string): string | undefined {
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(ms)) throw new UsageError(`--${name}: "${v.slice(0, 40)}" is not an ISO date/time such as 2030-01-31 or 2030-01-31T12:00:00Z`);
  return new Date(ms).toISOString();
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90s`, `15m`, `12h`, `30d`, `2w` (or plain seconds) → seconds. */
export function durationSec(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^([0-9]{1,9})([smhdw]?)$/.exec(v);
  if (!m || Number(m[1]) === 0) throw new UsageError(`--${name}: "${v.slice(0, 40)}" is not a duration such as 90s, 15m, 12h, 30d or 2w`);
  return Number(m[1]) * DURATION_UNITS[m[2] || 's']!;
}

const seg = (v: string): string => encodeURIComponent(v);

function connectionOptions(y: Argv): Argv {
  return y
    .option('url', { type: 'string', describe: 'Verifier URL (default http://127.0.0.1:8470, what `verifier serve` listens on)' })
    .option('api-key-file', { type: 'string', describe: 'File holding an admin API key (default: the TOKENFORGE_API_KEY environment variable)' })
    .option('json', { type: 'boolean', describe: 'Print the server answer as one JSON line instead of a table' });
}

function clientOf(a: A): VerifierClient {
  const url = verifierUrl(str(a, 'url'));
  return createVerifierClient({ url, apiKey: apiKeyFrom(str(a, 'api-key-file')) });
}

function print(a: A, value: unknown, human: () => string): void {
  process.stdout.write(a['json'] ? `${JSON.stringify(value)}\n` : human());
}

const cell = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** The `key  value` lines of one token record. */
function tokenLines(t: A): string {
  return table(Object.entries(t).map(([k, v]) => [k, cell(v)]));
}

/** Adds the filter flags shared by `tokens list` and the bulk actions. */
function filterOptions(y: Argv, bulk: boolean): Argv {
  y = y
    .option('batch', { type: 'string', describe: 'Tokens of this batch id (as the provisioner registered it)' })
    .option('user', { type: 'string', describe: 'Tokens of this user' })
    .option('state', { type: 'string', describe: `Tokens in this state: ${TOKEN_STATE_NAMES.join(', ')}` });
  if (bulk) {
    return y
      .option('serial', { type: 'string', array: true, describe: 'These serials (repeat the flag; up to 10,000)' })
      .option('all', { type: 'boolean', describe: 'Act on every token matching the (possibly empty) filter; required when no filter is given' })
      .option('dry-run', { type: 'boolean', describe: 'Count the tokens the action would change; change nothing' })
      .option('reason', { type: 'string', describe: 'Why (recorded in the audit entry)' });
  }
  return y;
}

/** The bulk filter from the flags; `{}` when none is given. */
function filterOf(a: A): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  for (const k of ['batch', 'user'] as const) {
    const v = str(a, k);
    if (v !== undefined) f[k] = v;
  }
  const state = oneOf(str(a, 'state'), 'state', TOKEN_STATE_NAMES);
  if (state !== undefined) f['state'] = state;
  const serials = a['serial'] === undefined ? [] : (a['serial'] as unknown[]).map(String);
  if (serials.length > 10_000) throw new UsageError(`--serial: given ${serials.length} times; at most 10,000 per call`);
  if (serials.length > 0) f['serials'] = serials;
  return f;
}

async function bulk(a: A, action: TokenAction, filter: Record<string, unknown>): Promise<void> {
  const all = a['all'] === true;
  if (Object.keys(filter).length === 0 && !all) {
    throw new UsageError(`tokens ${action}: give a SERIAL, a filter (--batch, --user, --serial, --state) or --all to act on every token`);
  }
  if (all && Object.keys(filter).length > 0) throw new UsageError(`tokens ${action}: --all means every token; give it without a filter, or drop it`);
  const reason = str(a, 'reason');
  const body = { action, filter, ...(all ? { all: true } : {}), ...(a['dry-run'] ? { dryRun: true } : {}), ...(reason !== undefined ? { reason } : {}) };
  const r = await clientOf(a).call('POST', '/v1/tokens:bulk', body);
  const filterText = Object.entries(filter).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.length} serials]` : String(v)}`).join(' ') || 'all tokens';
  print(a, r, () =>
    r['dryRun']
      ? `dry run: ${action} would change ${cell(r['changed'])} of ${cell(r['matched'])} matching tokens (${filterText}); nothing changed\n`
      : `${action}: ${cell(r['changed'])} of ${cell(r['matched'])} matching tokens ${PAST[action]} (${filterText}); one audit entry\n`,
  );
}

function actionCommand(action: TokenAction): CommandModule {
  const what: Record<TokenAction, string> = {
    enable: 'Enable a token (disabled or lost → active); revoked tokens stay revoked',
    disable: 'Disable a token (refused until enabled)',
    unlock: 'Unlock a token locked by failures (clears the failure count)',
    lost: 'Mark a token lost: it stops verifying at once; `enable` if it is found again, `revoke` when it is not',
    revoke: 'Revoke a token for good (terminal: it never verifies again and cannot be re-enabled)',
  };
  return {
    command: `${action} [token]`,
    describe: `${what[action]}; with filters instead of TOKEN: every matching token, atomically, one audit entry`,
    builder: (y) => filterOptions(connectionOptions(y).positional('token', { type: 'string', describe: 'Token serial' }), true),
    handler: async (a: A) => {
      const serial = a['token'] as string | undefined;
      const filter = filterOf(a);
      if (serial === undefined) return bulk(a, action, filter);
      if (Object.keys(filter).length > 0 || a['all'] || a['dry-run']) throw new UsageError(`tokens ${action}: give either SERIAL or filters (--batch, --user, --serial, --state, --all, --dry-run), not both`);
      const reason = str(a, 'reason');
      const r = await clientOf(a).call('POST', `/v1/tokens/${seg(serial)}/${action}`, reason !== undefined ? { reason } : undefined);
      const t = (r['token'] ?? {}) as A;
      print(a, r, () => `${serial}: ${PAST[action]} (state ${cell(t['state'])}, version ${cell(t['version'])})\n`);
    },
  };
}

const tokensList: CommandModule = {
  command: 'list',
  describe: 'List tokens, ordered by serial, with filters and cursor pagination',
  builder: (y) =>
    filterOptions(connectionOptions(y), false)
      .option('serial-prefix', { type: 'string', describe: 'Serials starting with this' })
      .option('type', { type: 'string', describe: 'hotp, totp or ocra' })
      .option('used-before', { type: 'string', describe: 'Last used before this ISO time' })
      .option('used-after', { type: 'string', describe: 'Last used after this ISO time' })
      .option('never-used', { type: 'boolean', describe: 'Only tokens that never verified a code' })
      .option('limit', { type: 'string', describe: 'Tokens per page, 1..1000 (default 100)' })
      .option('cursor', { type: 'string', describe: 'Continue after the page that printed this cursor' })
      .example('$0 verifier tokens list --batch 2030-01-fobs --state active', ''),
  handler: async (a: A) => {
    const q = new URLSearchParams();
    const put = (k: string, v: string | number | undefined): void => void (v !== undefined && q.set(k, String(v)));
    put('user', str(a, 'user'));
    put('batch', str(a, 'batch'));
    put('state', oneOf(str(a, 'state'), 'state', TOKEN_STATE_NAMES));
    put('serialPrefix', str(a, 'serial-prefix'));
    put('type', oneOf(str(a, 'type'), 'type', ['hotp', 'totp', 'ocra'] as const));
    put('usedBefore', isoOf(str(a, 'used-before'), 'used-before'));
    put('usedAfter', isoOf(str(a, 'used-after'), 'used-after'));
    if (a['never-used']) q.set('neverUsed', 'true');
    put('limit', intOf(str(a, 'limit'), 'limit', 1, 1000));
    put('cursor', str(a, 'cursor'));
    const qs = q.toString();
    const r = await clientOf(a).call('GET', `/v1/tokens${qs ? `?${qs}` : ''}`);
    const tokens = (r['tokens'] ?? []) as A[];
    print(a, r, () => {
      const rows = [['SERIAL', 'TYPE', 'STATE', 'USER', 'BATCH', 'LAST USED', 'VERSION']];
      for (const t of tokens) rows.push([cell(t['serial']), cell(t['type']), cell(t['state']), cell(t['user']), cell(t['batchId']), cell(t['lastUsedAt']), cell(t['version'])]);
      const more = r['nextCursor'] ? `more: add --cursor ${String(r['nextCursor'])}\n` : '';
      return `${table(rows)}${tokens.length} token${tokens.length === 1 ? '' : 's'}\n${more}`;
    });
  },
};

const tokensShow: CommandModule = {
  command: 'show <serial>',
  describe: 'Show one token (metadata, state, version; never the seed)',
  builder: (y) => connectionOptions(y).positional('serial', { type: 'string' }),
  handler: async (a: A) => {
    const serial = String(a['serial']);
    const r = await clientOf(a).call('GET', `/v1/tokens/${seg(serial)}`);
    print(a, r, () => tokenLines((r['token'] ?? {}) as A));
  },
};

const WINDOW_FLAGS = [
  ['look-ahead', 'lookAhead', 1000],
  ['window-back', 'windowBack', 1000],
  ['window-forward', 'windowForward', 1000],
  ['resync-window', 'resyncWindow', 10_000],
] as const;

const tokensUpdate: CommandModule = {
  command: 'update <serial>',
  describe: 'Change user (reassignment), label or windows, guarded by the version you read (409 if it changed since)',
  builder: (y) => {
    let b = connectionOptions(y)
      .positional('serial', { type: 'string' })
      .option('user', { type: 'string', describe: 'New user (reassignment, audited with old and new user); "" unassigns' })
      .option('label', { type: 'string', describe: 'New label; "" clears it' })
      .option('expect-version', { type: 'string', describe: 'The version you read with `tokens show`; default: the current one, read just before' });
    for (const [flag, , max] of WINDOW_FLAGS) b = b.option(flag, { type: 'string', describe: `0..${max}, or "default" for the server policy` });
    return b.example('$0 verifier tokens update FOB-1 --user bob --expect-version 7', 'Reassign FOB-1 to bob if nobody changed it since version 7');
  },
  handler: async (a: A) => {
    const serial = String(a['serial']);
    const patch: Record<string, unknown> = {};
    for (const k of ['user', 'label'] as const) {
      const v = str(a, k);
      if (v !== undefined) patch[k] = v === '' ? null : v;
    }
    for (const [flag, key, max] of WINDOW_FLAGS) {
      const v = str(a, flag);
      if (v !== undefined) patch[key] = v === 'default' ? null : intOf(v, flag, 0, max);
    }
    if (Object.keys(patch).length === 0) throw new UsageError('tokens update: nothing to change; give --user, --label, --look-ahead, --window-back, --window-forward or --resync-window');
    const c = clientOf(a);
    let version = intOf(str(a, 'expect-version'), 'expect-version', 0, 2 ** 31 - 1);
    if (version === undefined) version = Number(((await c.call('GET', `/v1/tokens/${seg(serial)}`))['token'] as A)['version']);
    const sent = version;
    const r = await c.call('PATCH', `/v1/tokens/${seg(serial)}`, { version, ...patch }, (e: ServerError) =>
      e.code === 'VERSION_MISMATCH'
        ? `you sent version ${sent}; re-read it with \`tokenforge verifier tokens show ${serial}\``
        : undefined,
    );
    const t = (r['token'] ?? {}) as A;
    print(a, r, () => `${serial}: updated ${Object.keys(patch).join(', ')} (version ${cell(t['version'])})\n${tokenLines(t)}`);
  },
};

const tokensDelete: CommandModule = {
  command: 'delete <serial>',
  describe: 'Delete a token registration; a tombstone keeps its seed fingerprint and last counter so no used code comes back',
  builder: (y) => connectionOptions(y).positional('serial', { type: 'string' }).option('reason', { type: 'string', describe: 'Why (kept in the tombstone and the audit entry)' }),
  handler: async (a: A) => {
    const serial = String(a['serial']);
    const reason = str(a, 'reason');
    await clientOf(a).call('DELETE', `/v1/tokens/${seg(serial)}${reason !== undefined ? `?reason=${encodeURIComponent(reason)}` : ''}`);
    print(a, { deleted: serial }, () => `${serial}: deleted (tombstone kept)\n`);
  },
};

export const tokensCommand: CommandModule = {
  command: 'tokens <action>',
  describe: 'Registry operations: list, show, update, enable, disable, unlock, lost, revoke, delete',
  builder: (y) => {
    let b = y.command(tokensList).command(tokensShow).command(tokensUpdate);
    for (const action of TOKEN_ACTIONS) b = b.command(actionCommand(action));
    return b.command(tokensDelete).demandCommand(1, 'Name an action: list, show, update, enable, disable, unlock, lost, revoke, delete');
  },
  handler: () => undefined,
};

const batchShow: CommandModule = {
  command: 'show <batch>',
  describe: 'Show a batch: its seed file fingerprint, token count by state, registration times',
  builder: (y) => connectionOptions(y).positional('batch', { type: 'string' }),
  handler: async (a: A) => {
    const r = await clientOf(a).call('GET', `/v1/batches/${seg(String(a['batch']))}`);
    print(a, r, () => {
      const src = (r['source'] ?? null) as A | null;
      const byState = (r['byState'] ?? {}) as A;
      return table([
        ['batch', cell(r['batchId'])],
        ['source', src ? `${cell(src['name'])} sha256:${cell(src['fingerprint'])}` : '-'],
        ['tokens', cell(r['tokens'])],
        ['by state', Object.entries(byState).map(([k, v]) => `${k} ${cell(v)}`).join(', ') || '-'],
        ['first registered', cell(r['firstRegisteredAt'])],
        ['last registered', cell(r['lastRegisteredAt'])],
      ]);
    });
  },
};

const batchRevoke: CommandModule = {
  command: 'revoke <batch>',
  describe: 'Revoke every token of a batch in one atomic call (a leaked seed file): none of them verifies after it returns',
  builder: (y) =>
    connectionOptions(y)
      .positional('batch', { type: 'string' })
      .option('dry-run', { type: 'boolean', describe: 'Count the tokens it would revoke; change nothing' })
      .option('reason', { type: 'string', describe: 'Why (recorded in the audit entry)' })
      .example('$0 verifier batch revoke 2030-01-fobs --reason "vendor seed file leaked"', ''),
  handler: async (a: A) => bulk(a, 'revoke', { batch: String(a['batch']) }),
};

export const batchCommand: CommandModule = {
  command: 'batch <action>',
  describe: 'Batches (one provisioning run, one seed file): show, revoke',
  builder: (y) => y.command(batchShow).command(batchRevoke).demandCommand(1, 'Name an action: show, revoke'),
  handler: () => undefined,
};

export const keysList: CommandModule = {
  command: 'list',
  describe: 'List API keys (id, role, label, created, last used, expiry, revoked); never the key itself',
  builder: (y) => connectionOptions(y),
  handler: async (a: A) => {
    const r = await clientOf(a).call('GET', '/v1/keys');
    const keys = (r['keys'] ?? []) as A[];
    print(a, r, () =>
      table([
        ['ID', 'ROLE', 'LABEL', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'],
        ...keys.map((k) => [cell(k['id']), cell(k['role']), cell(k['label']), cell(k['createdAt']), cell(k['lastUsedAt']), cell(k['expiresAt']), cell(k['revokedAt'])]),
      ]),
    );
  },
};

export const keysRevoke: CommandModule = {
  command: 'revoke <id>',
  describe: 'Revoke an API key (e.g. a stolen one): every server refuses it within a second',
  builder: (y) => connectionOptions(y).positional('id', { type: 'string', describe: 'Key id (the 12 hex digits after tfv_, as `keys list` shows)' }),
  handler: async (a: A) => {
    const id = String(a['id']);
    if (!/^[0-9a-f]{12}$/.test(id)) throw new UsageError(`keys revoke: "${id.slice(0, 40)}" is not a key id (12 hex digits, as \`verifier keys list\` shows)`);
    const r = await clientOf(a).call('POST', `/v1/keys/${id}/revoke`);
    const k = (r['key'] ?? {}) as A;
    print(a, r, () => `key ${id} (${cell(k['role'])}, ${cell(k['label'])}) revoked at ${cell(k['revokedAt'])}\n`);
  },
};
