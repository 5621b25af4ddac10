/**
 * Assembles a running verifier from configuration: store, master keyring, policy, service, HTTP server.
 * Used by `tokenforge verifier serve` and by tests; the CLI owns argv, signals and the console.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_POLICY, MAX_FAILURES_LIMIT, type Policy } from './domain/types.ts';
import { VerifierError } from './errors.ts';
import { createKeyFile, keyFileExists, looseMode, watchedKeyring } from './keyfile.ts';
import { createMetrics } from './metrics.ts';
import { createVerifierService } from './service.ts';
import { createHandler, type Logger } from './http/handler.ts';
import { startServer, type RunningServer } from './http/server.ts';
import { openStore } from './store/open.ts';
import type { VerifierStore } from './store/types.ts';

export interface AppOptions {
  db: string;
  masterKeyFile: string;
  host: string;
  port: number;
  policy?: Partial<Policy>;
  bodyLimit?: number;
  engineCacheSize?: number;
  sqliteSynchronous?: 'normal' | 'full';
  openapi: string;
  log: Logger;
  /** Time source for verification (default: the wall clock); the demo passes a virtual clock. */
  clock?: { nowMs(): number };
}

export interface RunningApp {
  url: string;
  store: VerifierStore;
  close(): Promise<void>;
}

export function checkPolicy(p: Policy): void {
  if (!Number.isInteger(p.maxFailures) || p.maxFailures < 1 || p.maxFailures > MAX_FAILURES_LIMIT) {
    throw new VerifierError('INVALID_REQUEST', `max failures ${p.maxFailures} must be 1..${MAX_FAILURES_LIMIT} (NIST SP 800-63B 5.2.2 allows at most 100)`);
  }
  for (const k of ['lookAhead', 'windowBack', 'windowForward', 'resyncWindow', 'backoffBaseMs', 'backoffMaxMs', 'maxDriftSteps'] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 0) throw new VerifierError('INVALID_REQUEST', `${k} ${p[k]} must be a non-negative integer`);
  }
}

/** Ensures the master key file exists; creates it (0600) when the store holds no tokens yet. */
export async function ensureMasterKey(path: string, store: VerifierStore, log: Logger): Promise<void> {
  if (keyFileExists(path)) {
    if (looseMode(path)) log('warn', `master key file ${path} is readable by group or others; run chmod 600 ${path}`);
    return;
  }
  const n = await store.countTokens();
  if (n > 0) {
    throw new VerifierError('MASTER_KEY', `master key file ${path} is missing but the database holds ${n} tokens sealed under it; restore the file (or pass --master-key-file)`);
  }
  createKeyFile(path, Date.now());
  log('warn', `generated a new master key in ${path} (mode 0600); back it up and keep it secret — without it the stored seeds cannot be decrypted`);
}

export async function startApp(o: AppOptions): Promise<RunningApp> {
  const policy: Policy = { ...DEFAULT_POLICY, ...o.policy };
  checkPolicy(policy);
  const store = await openStore(o.db, { sqlite: { synchronous: o.sqliteSynchronous ?? 'normal' } });
  try {
    await ensureMasterKey(o.masterKeyFile, store, o.log);
    const keyring = watchedKeyring(o.masterKeyFile);
    keyring();
    const clock = o.clock ?? { nowMs: () => Date.now() };
    const metrics = createMetrics();
    const service = createVerifierService({
      store,
      keyring,
      policy,
      clock,
      metrics,
      randomId: randomUUID,
      ...(o.engineCacheSize !== undefined ? { engineCacheSize: o.engineCacheSize } : {}),
    });
    const handler = createHandler({ service, store, metrics, clock, openapi: o.openapi, log: o.log });
    const server: RunningServer = await startServer({ host: o.host, port: o.port, handler, ...(o.bodyLimit !== undefined ? { bodyLimit: o.bodyLimit } : {}) });
    return {
      url: server.url,
      store,
      async close() {
        await server.close();
        service.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
