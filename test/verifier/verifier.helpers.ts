/**
 * Shared helpers for the verifier tests: temp dirs, PostgreSQL schemas (unique per test file, dropped
 * afterwards), real server processes (`node dist/tokenforge.js verifier serve --port 0`, the build), API keys, HTTP calls.
 */
import { request, type Agent } from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { builtCli } from '../../tools/build.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = builtCli(ROOT);
export const PG_URL = process.env['TOKENFORGE_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export function tempDir(prefix = 'tf-verifier-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh, uniquely named schema; `url` selects it through the ?schema= parameter the store understands. */
export async function pgSchema(tag: string): Promise<{ schema: string; url: string; drop(): Promise<void> }> {
  const schema = `tfv_${tag}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  return {
    schema,
    url: `${PG_URL}?schema=${schema}`,
    async drop() {
      const d = new pg.Client({ connectionString: PG_URL });
      await d.connect();
      await d.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await d.end();
    },
  };
}

/**
 * A work directory and a database for one backend: a SQLite file `fileName` in the directory, or a fresh
 * PostgreSQL schema. Their removal is pushed onto `cleanups`.
 */
export async function backendStore(
  backend: 'sqlite' | 'postgres',
  tag: string,
  fileName: string,
  cleanups: Array<() => Promise<void> | void>,
): Promise<{ dir: string; db: string }> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  if (backend === 'sqlite') return { dir: t.dir, db: join(t.dir, fileName) };
  const s = await pgSchema(tag);
  cleanups.push(s.drop);
  return { dir: t.dir, db: s.url };
}

export async function pgQuery(schema: string, sql: string, args: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await c.connect();
  try {
    return await c.query(sql, args);
  } finally {
    await c.end();
  }
}

export function runCli(args: string[], cwd = ROOT): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function createKey(db: string, role: 'admin' | 'verify', cwd = ROOT): string {
  const r = runCli(['verifier', 'keys', 'create', '--role', role, '--db', db], cwd);
  if (r.status !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return r.stdout.trim();
}

export interface ServerProc {
  url: string;
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill9(): Promise<void>;
}

export async function startServer(db: string, keyFile: string, extra: string[] = [], cwd = ROOT): Promise<ServerProc> {
  const proc = spawn(process.execPath, [BIN, 'verifier', 'serve', '--port', '0', '--db', db, '--master-key-file', keyFile, ...extra], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start: ${err}`)), 30_000);
    const check = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`server exited with ${code}: ${err}`));
    });
  });
  return {
    url,
    proc,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

export async function call(url: string, method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url + path, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    /* non-JSON bodies (metrics) */
  }
  return { status: res.status, text, json };
}

export const RFC_KEY_HEX = '3132333435363738393031323334353637383930';

/** One JSON POST over `agent` (keep-alive pools for load tests), with its status and parsed body. */
export function postJson(agent: Agent, url: string, key: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
        } catch (e) {
          reject(e as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}
