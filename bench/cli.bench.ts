/**
 * `npm run bench cli`: the `tokenforge` command as a whole process, against what a user would compare it with.
 *
 *   (a) `tokenforge otp hotp --key K --counter 1` (one code) against a bare `node -e 0`: start-up cost (target <= 3x);
 *   (b) `tokenforge --help` against `node -e 0` (target <= 3x);
 *   (c) 3,000,001 codes: `tokenforge otp hotp --key K --window 3000000` against `oathtool --hotp -w 3000000 K`
 *       (target: ours >= 2x faster), output to /dev/null, and our peak RSS (target < 100 MiB).
 *
 * The command runs through the package.json `bin` entry (read at run time, so the bench follows a switch to a
 * compiled build), with the node that runs this bench. Method: each process is run RUNS times (WINDOW_RUNS for
 * (c)), the cases alternating run by run so that load changes on the shared machine hit all of them alike;
 * times are medians, peak RSS the highest of all runs. Wall time is measured here around each spawn; each run
 * goes through GNU `/usr/bin/time -f` when present, which adds CPU time (user + system, 10 ms resolution) and
 * peak RSS (%M) from the kernel's rusage; without it, the peak RSS is polled from /proc/PID/status (VmHWM)
 * and CPU time is not reported. Target verdicts use wall time (what a user waits for);
 * the CPU column is less sensitive to other tenants. Before timing, (c) checks that both programs print the
 * same 3,000,001 lines. A last line splits (c) into start-up (the one-code run) and the codes themselves (the
 * window run minus the one-code run). The report names the CPU model and whether it has SHA-NI (`sha_ni`; oathtool's SHA-1
 * does not use it, node:crypto's OpenSSL would).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);
const WINDOW_RUNS = Number(process.env['BENCH_WINDOW_RUNS'] ?? 5);
const WINDOW = 3_000_000;
/** RFC 4226 Appendix D key ("12345678901234567890"). */
const KEY_HEX = '3132333435363738393031323334353637383930';
const GNU_TIME = '/usr/bin/time';

interface Sample {
  wallMs: number;
  /** User + system CPU ms; NaN when only wall time could be measured. */
  cpuMs: number;
  /** Peak resident set size in KiB. */
  rssKiB: number;
}


interface Cmd {
  readonly name: string;
  readonly argv: readonly string[];
}

/** The `tokenforge` entry point from package.json `bin`, as a node argv prefix. */
function tokenforgeArgv(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['tokenforge'];
  if (bin === undefined) throw new Error('bench: package.json has no bin entry for tokenforge');
  return [process.execPath, resolve(ROOT, bin)];
}

function cpuInfo(): { model: string; shaNi: boolean } {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return { model: cpus()[0]?.model ?? 'unknown', shaNi: false };
  }
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const flags = /^flags\s*:\s*(.+)$/m.exec(text)?.[1] ?? '';
  return { model, shaNi: flags.split(/\s+/).includes('sha_ni') };
}

const hasGnuTime = (): boolean => spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;

/** One run of `argv`, stdout to /dev/null; throws on a non-zero exit. */
async function runOnce(argv: readonly string[], devNull: number, scratch: string, gnuTime: boolean): Promise<Sample> {
  if (gnuTime) {
    const report = join(scratch, 'time.txt');
    const t = process.hrtime.bigint();
    const r = spawnSync(GNU_TIME, ['-o', report, '-f', '%U %S %M', ...argv], { stdio: ['ignore', devNull, 'pipe'] });
    const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`bench: ${argv.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 300)}`);
    const [u, s, m] = readFileSync(report, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { wallMs, cpuMs: (u! + s!) * 1000, rssKiB: m! };
  }
  return new Promise((resolvePromise, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', devNull, 'pipe'] });
    let hwm = 0;
    const poll = setInterval(() => {
      try {
        const kb = /^VmHWM:\s*(\d+)/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        if (kb !== undefined) hwm = Math.max(hwm, Number(kb));
      } catch {
        // the process has exited between two polls
      }
    }, 5);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
      if (code !== 0) reject(new Error(`bench: ${argv.join(' ')} exited ${code}: ${stderr.slice(0, 300)}`));
      else resolvePromise({ wallMs, cpuMs: Number.NaN, rssKiB: hwm });
    });
  });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

interface Figure {
  readonly name: string;
  readonly wallMs: number;
  readonly cpuMs: number;
  /** The highest peak RSS of all runs. */
  readonly rssKiB: number;
  readonly runs: number;
}

/** Runs the commands `runs` times each, alternating (one run of every command, then the next round). */
async function measure(cmds: readonly Cmd[], runs: number, devNull: number, scratch: string, gnuTime: boolean): Promise<Figure[]> {
  const samples = cmds.map((): Sample[] => []);
  for (const c of cmds) await runOnce(c.argv, devNull, scratch, gnuTime); // warm-up: page cache, tsx's transform cache
  for (let r = 0; r < runs; r++) {
    for (const [i, c] of cmds.entries()) samples[i]!.push(await runOnce(c.argv, devNull, scratch, gnuTime));
  }
  return cmds.map((c, i) => ({
    name: c.name,
    wallMs: median(samples[i]!.map((s) => s.wallMs)),
    cpuMs: median(samples[i]!.map((s) => s.cpuMs)),
    rssKiB: Math.max(...samples[i]!.map((s) => s.rssKiB)),
    runs,
  }));
}

/** Both programs print the same 3,000,001 lines (checked once, before timing). */
function checkSameOutput(ours: readonly string[], theirs: readonly string[]): void {
  const a = spawnSync(ours[0]!, ours.slice(1), { maxBuffer: 64 * 1024 * 1024 });
  const b = spawnSync(theirs[0]!, theirs.slice(1), { maxBuffer: 64 * 1024 * 1024 });
  if (a.status !== 0 || b.status !== 0) throw new Error(`bench: check run failed: ${String(a.stderr)}${String(b.stderr)}`);
  const lines = a.stdout.length / 7;
  if (!a.stdout.equals(b.stdout) || lines !== WINDOW + 1) {
    throw new Error(`bench: tokenforge and oathtool disagree on the ${WINDOW + 1} codes (${a.stdout.length} vs ${b.stdout.length} bytes)`);
  }
}

const ms = (x: number): string => (Number.isNaN(x) ? 'n/a' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
const ratio = (x: number): string => (Number.isNaN(x) ? 'n/a' : `${x.toFixed(2)}x`);

export async function run(): Promise<void> {
  const tf = tokenforgeArgv();
  const cpu = cpuInfo();
  const gnuTime = hasGnuTime();
  if (spawnSync('oathtool', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error('bench: oathtool is not installed (Debian package oathtool)');
  const scratch = mkdtempSync(join(tmpdir(), 'tf-bench-cli-'));
  const devNull = openSync('/dev/null', 'w');
  const loadBefore = loadavg()[0]!;
  try {
    const bare: Cmd = { name: 'node -e 0', argv: [process.execPath, '-e', '0'] };
    const one: Cmd = { name: 'tokenforge otp hotp --key K --counter 1', argv: [...tf, 'otp', 'hotp', '--key', KEY_HEX, '--counter', '1'] };
    const help: Cmd = { name: 'tokenforge --help', argv: [...tf, '--help'] };
    const ours: Cmd = { name: `tokenforge otp hotp --key K --window ${WINDOW}`, argv: [...tf, 'otp', 'hotp', '--key', KEY_HEX, '--window', String(WINDOW)] };
    const oath: Cmd = { name: `oathtool --hotp -w ${WINDOW} K`, argv: ['oathtool', '--hotp', '-w', String(WINDOW), KEY_HEX] };

    checkSameOutput(ours.argv, oath.argv);
    const [fBare, fOne, fHelp] = await measure([bare, one, help], RUNS, devNull, scratch, gnuTime);
    const [fOurs, fOath] = await measure([ours, oath], WINDOW_RUNS, devNull, scratch, gnuTime);
    const loadAfter = loadavg()[0]!;

    console.log(`CPU: ${cpu.model}, ${cpus().length} logical cores, SHA-NI (sha_ni): ${cpu.shaNi ? 'yes' : 'no'}`);
    console.log(`node ${process.version}; tokenforge = ${tf.slice(1).map((p) => p.replace(`${ROOT}/`, '')).join(' ')} (package.json bin)`);
    console.log(`load average (1 min): ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`);
    console.log(`timing: wall time around each spawn; ${gnuTime ? `CPU and peak RSS from ${GNU_TIME} -f '%U %S %M'` : 'peak RSS polled from /proc/PID/status VmHWM (no CPU time)'}; times are medians, RSS the highest run; runs alternate between the commands; stdout to /dev/null\n`);
    console.log('| command | runs | wall (median) | CPU user+sys (median) | peak RSS (max) |');
    console.log('|---|---:|---:|---:|---:|');
    for (const f of [fBare!, fOne!, fHelp!, fOurs!, fOath!]) console.log(`| ${f.name} | ${f.runs} | ${ms(f.wallMs)} | ${ms(f.cpuMs)} | ${mib(f.rssKiB)} |`);

    const startOne = fOne!.wallMs / fBare!.wallMs;
    const startHelp = fHelp!.wallMs / fBare!.wallMs;
    const speed = fOath!.wallMs / fOurs!.wallMs;
    console.log(`\n${(WINDOW + 1).toLocaleString('en-US')} codes checked identical to oathtool's before timing; ours per code (wall, start included): ${((fOurs!.wallMs / (WINDOW + 1)) * 1e6).toFixed(0)} ns, oathtool: ${((fOath!.wallMs / (WINDOW + 1)) * 1e6).toFixed(0)} ns\n`);
    console.log('| target | required | measured (wall) | measured (CPU) | |');
    console.log('|---|---:|---:|---:|---|');
    const row = (name: string, required: string, wall: number, cpuRatio: number, met: boolean): void => {
      console.log(`| ${name} | ${required} | ${ratio(wall)} | ${ratio(cpuRatio)} | ${met ? 'met' : 'MISSED'} |`);
    };
    row('(a) one code vs node -e 0', '<= 3x', startOne, fOne!.cpuMs / fBare!.cpuMs, startOne <= 3);
    row('(b) --help vs node -e 0', '<= 3x', startHelp, fHelp!.cpuMs / fBare!.cpuMs, startHelp <= 3);
    row(`(c) oathtool time / ours, ${(WINDOW + 1).toLocaleString('en-US')} codes`, '>= 2x', speed, fOath!.cpuMs / fOurs!.cpuMs, speed >= 2);
    console.log(`| (c) our peak RSS | < 100 MiB | ${mib(fOurs!.rssKiB)} | | ${fOurs!.rssKiB < 100 * 1024 ? 'met' : 'MISSED'} |`);
    // Where the time goes: the window run minus the one-code run is the cost of the 3,000,000 extra codes
    // without our start-up; oathtool's own start is about a millisecond.
    const codesWall = fOurs!.wallMs - fOne!.wallMs;
    const codesCpu = fOurs!.cpuMs - fOne!.cpuMs;
    console.log(
      `\nstart-up excluded (window run - one-code run): ${WINDOW.toLocaleString('en-US')} codes take ${ms(codesWall)} wall / ${ms(codesCpu)} CPU, ` +
        `oathtool ${ratio(fOath!.wallMs / codesWall)} / ${ratio(fOath!.cpuMs / codesCpu)} slower; our start-up (one code) is ${ms(fOne!.wallMs)} wall / ${ms(fOne!.cpuMs)} CPU`,
    );
  } finally {
    closeSync(devNull);
    rmSync(scratch, { recursive: true, force: true });
  }
}
