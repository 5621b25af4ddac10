/**
 * `tokenforge demo` (npm start) as a real process: it completes with every check as expected and exits 0,
 * `--seed` makes two runs identical (same serials, same codes), and `--keep` leaves a verifier and tokens that
 * the other commands can reach until SIGINT.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtCli } from '../../tools/build.ts';

const root = resolve(import.meta.dirname, '../..');
const bin = builtCli(root);

interface DemoJson {
  checks: { act: string; serial: string; expected: string; got: string; ok: boolean; detail?: string }[];
  failed: number;
}

function runJson(seed: number): DemoJson {
  const r = spawnSync(process.execPath, [bin, 'demo', '--seed', String(seed), '--json'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as DemoJson;
}

describe('tokenforge demo', () => {
  it('runs end to end, every check as expected, and --seed reproduces serials and codes', () => {
    const a = runJson(11);
    expect(a.failed).toBe(0);
    expect(a.checks.length).toBeGreaterThanOrEqual(15);
    const acts = a.checks.map((c) => c.got);
    expect(acts).toContain('replayed');
    expect(acts).toContain('locked');
    expect(a.checks.some((c) => /after a year/.test(c.act) && c.got === 'ok')).toBe(true);
    const b = runJson(11);
    expect(b.checks).toEqual(a.checks);
    const c = runJson(12);
    expect(c.failed).toBe(0);
    expect(c.checks.map((x) => x.serial)).not.toEqual(a.checks.map((x) => x.serial));
  }, 240_000);

  it('--keep leaves the verifier and tokens running until SIGINT', async () => {
    const child = spawn(process.execPath, [bin, 'demo', '--keep'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no "Still running" in: ${out}`)), 120_000);
      child.stdout.on('data', () => {
        if (out.includes('try       tokenforge')) {
          clearTimeout(timer);
          res();
        }
      });
    });
    const url = /verifier\s+(http:\/\/\S+)/.exec(out.split('Still running')[1]!)![1]!;
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    const port = /--port (\S+)/.exec(out)![1]!;
    const info = spawnSync(process.execPath, [bin, 'device', 'info', '--port', port, '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(info.status).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ state: 'LOCKED' });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    expect(code).toBe(0);
  }, 240_000);
});
