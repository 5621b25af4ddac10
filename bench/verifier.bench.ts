/**
 * Verifier throughput over HTTP: verifications per second and p50/p99 latency, SQLite and PostgreSQL.
 *
 * The server runs as its own process (`node dist/tokenforge.js verifier serve`, the build), the load in another process
 * (autocannon, driven by this same file with `load` as argv[2]) so client CPU is not charged to the server.
 * Every request is a valid code: a token is used by one request at a time and its counter advances when the
 * answer comes back, so each verification does the full work (window search, compare-and-set write, audit
 * append). Each configuration runs REPEAT times after a warm-up; the table gives medians. The machine is
 * shared, so absolute figures vary with what else runs; compare rows of one run. The baseline row is a bare
 * node:http server that only parses the JSON and answers — the ceiling for any Node HTTP service on this machine
 * at this moment — and verif/CPU-s (server CPU time from /proc) is much less sensitive to other load.
 *
 *   npm run bench verifier            # env: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (50), BENCH_TOKENS (2000)
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createHotpEngine, type HotpEngine } from '../otp/engine.ts';
import { builtCli } from '../tools/build.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
/** The built CLI (npm run bench builds it first), looked up when a server starts. */
const bin = (): string => builtCli(ROOT);
const PG_URL = process.env['TOKENFORGE_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const TOKENS = Number(process.env['BENCH_TOKENS'] ?? 2000);
const REPEAT = Number(process.env['BENCH_REPEAT'] ?? 3);
/** Which rows to run: any of baseline, sqlite, sqlite-full, postgres (comma-separated; default all). */
/** Load generator: wrk (default when installed; C, cheaper per request) or autocannon. */
const LOADER = process.env['BENCH_LOADER'] ?? (spawnSync('wrk', ['--version']).error ? 'autocannon' : 'wrk');
const ROWS = (process.env['BENCH_STORES'] ?? 'baseline,sqlite,sqlite-full,postgres').split(',');

/** Deterministic bench seeds (not secrets): both processes derive them from the index. */
const seedOf = (i: number): Uint8Array => createHash('sha256').update(`tokenforge-bench-${i}`).digest().subarray(0, 20);

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  notOk: number;
  errors: number;
}

/** The load process: autocannon against /v1/verify with always-valid codes. */
async function load(url: string, key: string, first: number, tokens: number, connections: number, seconds: number): Promise<void> {
  // @ts-expect-error autocannon ships no type declarations
  const { default: autocannon } = (await import('autocannon')) as unknown as { default: (o: object) => Promise<Record<string, any>> };
  const engines: HotpEngine[] = [];
  const counters: bigint[] = [];
  for (let i = 0; i < tokens; i++) {
    engines.push(createHotpEngine(seedOf(first + i), { digits: 6 }));
    counters.push(0n);
  }
  // FIFO of tokens not in flight: each token has at most one request outstanding, so its codes arrive in order.
  const free: number[] = Array.from({ length: tokens }, (_, i) => i);
  let ok = 0;
  let notOk = 0;
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/v1/verify',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        setupRequest(req: Record<string, unknown>, ctx: Record<string, unknown>) {
          const i = free.shift()!;
          ctx['i'] = i;
          req['body'] = `{"serial":"B-${first + i}","code":"${engines[i]!.code(counters[i]!)}"}`;
          return req;
        },
        onResponse(status: number, body: string, ctx: Record<string, unknown>) {
          const i = ctx['i'] as number;
          if (status === 200 && body.includes('"result":"ok"')) {
            ok++;
            counters[i]!++;
          } else notOk++;
          free.push(i);
        },
      },
    ],
  });
  const out: LoadResult = {
    rps: result['requests'].average,
    p50: result['latency'].p50,
    p99: result['latency'].p99,
    ok,
    notOk,
    errors: result['errors'] + result['timeouts'] + result['non2xx'],
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

const WRK_LUA = `
-- Each thread takes the request bodies of its own tokens (token k belongs to thread k % nthreads) in order;
-- consecutive uses of one token are TOKENS/nthreads requests apart, far more than the requests in flight.
local bodies, n, i = {}, 0, 0
ok, bad = 0, 0 -- globals: done() reads them per thread with thread:get
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local nthreads, tokens = tonumber(args[2]), tonumber(args[3])
  local k = 0
  for line in io.lines(args[1]) do
    if (k % tokens) % nthreads == tid then n = n + 1; bodies[n] = line end
    k = k + 1
  end
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  wrk.headers["authorization"] = "Bearer " .. args[4]
end
function request()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format(nil, "/v1/verify", nil, bodies[i])
end
function response(status, headers, body)
  if status == 200 and string.find(body, '"result":"ok"', 1, true) then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local oks, bads = 0, 0
  for _, t in ipairs(threads) do oks = oks + t:get("ok"); bads = bads + t:get("bad") end
  io.write(string.format('RESULT {"rps":%f,"p50":%f,"p99":%f,"ok":%d,"bad":%d,"errors":%d}\\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    oks, bads, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status))
end
`;

/** wrk (C, from Debian) as the load process: bodies precomputed here, one line per request, token-major rounds. */
function runWrk(url: string, key: string, round: number, seconds: number, dir: string): Promise<LoadResult> {
  const rounds = 80;
  const lines: string[] = [];
  const engines = Array.from({ length: TOKENS }, (_, k) => createHotpEngine(seedOf(round * TOKENS + k), { digits: 6 }));
  for (let r = 0; r < rounds; r++) for (let k = 0; k < TOKENS; k++) lines.push(`{"serial":"B-${round * TOKENS + k}","code":"${engines[k]!.code(BigInt(r))}"}`);
  const bodies = join(dir, `bodies-${round}.txt`);
  writeFileSync(bodies, lines.join('\n') + '\n');
  const script = join(dir, 'verify.lua');
  writeFileSync(script, WRK_LUA);
  const threads = 2;
  return new Promise((res, rej) => {
    const p = spawn('wrk', ['-t', String(threads), '-c', String(CONNECTIONS), '-d', `${seconds}s`, '--latency', '-s', script, url, '--', bodies, String(threads), String(TOKENS), key], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      const m = /RESULT (\{.*\})/.exec(out);
      if (code !== 0 || !m) return rej(new Error(`wrk failed (${code}): ${out}`));
      const r = JSON.parse(m[1]!) as { rps: number; p50: number; p99: number; ok: number; bad: number; errors: number };
      if (r.ok + r.bad > rounds * TOKENS) return rej(new Error('wrk ran out of precomputed codes; raise rounds'));
      res({ rps: r.rps, p50: r.p50, p99: r.p99, ok: r.ok, notOk: r.bad, errors: r.errors });
    });
  });
}

/** Run `round` uses its own tokens (TOKENS * round ..), whose counters all start at 0. */
function runLoad(url: string, key: string, round: number, seconds: number): Promise<LoadResult> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'load', url, key, String(round * TOKENS), String(TOKENS), String(CONNECTIONS), String(seconds)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!) as LoadResult) : rej(new Error(`load process exited ${code}`))));
  });
}

/** CPU seconds (user + system) used so far by a process, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Baseline: the least a node:http JSON endpoint can do (read body, JSON.parse, answer) — no verification. */
function baselineServer(): void {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { serial?: string };
      const out = JSON.stringify({ result: 'ok', serial: j.serial ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
  s.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${(s.address() as { port: number }).port}\n`));
  process.once('SIGTERM', () => s.close(() => process.exit(0)));
}

async function startServer(db: string, keyFile: string, extra: string[]): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const args = db === 'baseline' ? ['--import', 'tsx', fileURLToPath(import.meta.url), 'baseline'] : [bin(), 'verifier', 'serve', '--port', '0', '--db', db, '--master-key-file', keyFile, '--backoff-ms', '0', ...extra];
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server process only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((x) => x !== '');
  const p = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((res, rej) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    p.on('exit', (c) => rej(new Error(`server exited ${c}: ${err}`)));
  });
  return {
    url,
    pid: p.pid!,
    stop: () =>
      new Promise((r) => {
        p.once('exit', () => r());
        p.kill('SIGTERM');
      }),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(name: string, db: string, dir: string, extra: string[] = []): Promise<string> {
  const keyFile = join(dir, `${name}.key`);
  let key = 'none';
  if (db !== 'baseline') {
    const k = spawnSync(process.execPath, [bin(), 'verifier', 'keys', 'create', '--role', 'admin', '--db', db], { cwd: ROOT, encoding: 'utf8' });
    if (k.status !== 0) throw new Error(k.stderr);
    key = k.stdout.trim();
  }
  const srv = await startServer(db, keyFile, extra);
  try {
    const tokens = Array.from({ length: TOKENS * (REPEAT + 1) }, (_, i) => ({ serial: `B-${i}`, type: 'hotp', secret: Buffer.from(seedOf(i)).toString('hex'), secretEncoding: 'hex' }));
    const r = await fetch(`${srv.url}/v1/tokens:batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tokens }),
    });
    if (r.status !== 200 && db !== 'baseline') throw new Error(`registration failed: ${r.status} ${await r.text()}`);
    if (LOADER === 'wrk') await runWrk(srv.url, key, 0, 2, dir); // warm-up (JIT, statement caches)
    else await runLoad(srv.url, key, 0, 2);
    const runs: LoadResult[] = [];
    const perCpu: number[] = [];
    for (let i = 1; i <= REPEAT; i++) {
      const c0 = cpuSeconds(srv.pid);
      const r = LOADER === 'wrk' ? await runWrk(srv.url, key, i, SECONDS, dir) : await runLoad(srv.url, key, i, SECONDS);
      runs.push(r);
      perCpu.push((r.ok + r.notOk) / (cpuSeconds(srv.pid) - c0));
    }
    const bad = runs.reduce((n, x) => n + x.notOk + x.errors, 0);
    void bad;
    return `| ${name.padEnd(28)} | ${median(runs.map((x) => x.rps)).toFixed(0).padStart(8)} | ${median(perCpu).toFixed(0).padStart(12)} | ${median(runs.map((x) => x.p50)).toFixed(1).padStart(7)} | ${median(runs.map((x) => x.p99)).toFixed(1).padStart(7)} | ${runs.map((x) => x.rps.toFixed(0)).join(', ').padEnd(22)} | ${String(runs.reduce((n, x) => n + x.ok, 0)).padStart(8)} | ${String(bad).padStart(6)} |`;
  } finally {
    await srv.stop();
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tf-verifier-bench-'));
  const schema = `tfv_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  console.log(`verifier over HTTP, load from ${LOADER}: ${CONNECTIONS} connections, ${TOKENS} HOTP tokens, ${REPEAT} x ${SECONDS} s per row after a 2 s warm-up; medians (shared machine: compare rows, not runs)\n`);
  console.log('verif/CPU-s: verifications per CPU-second used by the server process (user+sys from /proc), i.e. the rate one');
  console.log('free core would sustain; it is much less sensitive to other load on the machine than verif/s.\n');
  console.log('| store                        |  verif/s |  verif/CPU-s | p50 ms  | p99 ms  | runs (verif/s)         |   ok     | not ok |');
  console.log('|------------------------------|----------|--------------|---------|---------|------------------------|----------|--------|');
  try {
    if (ROWS.includes('baseline')) console.log(await measure('baseline: bare node:http JSON', 'baseline', dir));
    if (ROWS.includes('sqlite')) console.log(await measure('sqlite (synchronous=NORMAL)', join(dir, 'bench.db'), dir));
    if (ROWS.includes('sqlite-full')) console.log(await measure('sqlite (synchronous=FULL)', join(dir, 'bench-full.db'), dir, ['--sqlite-sync', 'full']));
    await admin.connect();
    if (ROWS.includes('postgres')) {
      await admin.query(`CREATE SCHEMA ${schema}`);
      console.log(await measure('postgres', `${PG_URL}?schema=${schema}`, dir));
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'baseline' && resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) baselineServer();
if (process.argv[2] === 'load' && resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const [url, key, first, tokens, conns, secs] = process.argv.slice(3);
  await load(url!, key!, Number(first), Number(tokens), Number(conns), Number(secs));
}
