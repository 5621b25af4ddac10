/**
 * `tokenforge device ...` as a real process (node dist/tokenforge.js, the build) against the reference responder served over TCP
 * and over a socat PTY, and against ports that are not tokens: a missing path, a silent PTY, an echoing PTY,
 * a PTY that talks text. Each failure must be one line on stderr and a non-zero exit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serveTcp, type TcpEndpoint } from '../../protocol/links/endpoint.ts';
import { createReferenceResponder, seededRng } from '../../protocol/reference-responder.ts';
import { openSerialLink } from '../../protocol/links/serial.ts';
import type { ByteLink } from '../../protocol/transport.ts';
import { serveResponderOnPty, socatPtyPair, type PtyPair, type ServedPty } from './protocol.helpers.ts';
import { builtCli } from '../../tools/build.ts';

const BIN = builtCli(fileURLToPath(new URL('../..', import.meta.url)));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function oneErrorLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tokenforge: error: /);
  return lines[0]!;
}

let tcp: TcpEndpoint;
let pty: ServedPty;
beforeAll(async () => {
  tcp = await serveTcp(createReferenceResponder({ rng: seededRng(31), serial: 'REF-CLI-1' }));
  pty = await serveResponderOnPty(32);
});
afterAll(async () => {
  await tcp?.close();
  await pty?.close();
});

describe('tokenforge device (reference responder)', () => {
  it('info --json over TCP, with the TEST attestation checked', async () => {
    const r = await run(['device', 'info', '--port', tcp.url, '--json', '--trust-test-attestation']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ serial: 'REF-CLI-1', state: 'FACTORY', slotCount: 0, capabilityNames: ['RTC', 'BUTTON'] });
    expect(String(info['attestation'])).toMatch(/^valid \(TEST/);
    expect(String(info['devicePublicKey'])).toMatch(/^04[0-9a-f]{128}$/);
  });

  it('info (text) over a PTY says the attestation was not checked without a trust anchor', async () => {
    const r = await run(['device', 'info', '--port', pty.hostPath]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model: +tokenforge reference responder$/m);
    expect(r.stdout).toMatch(/^attestation: +not checked/m);
  });

  it('ping, wink, time and self-test', async () => {
    const [ping, wink, time, st] = await Promise.all([
      run(['device', 'ping', '--port', pty.hostPath, '--size', '7609', '--json']),
      run(['device', 'wink', '--port', tcp.url]),
      run(['device', 'time', '--port', tcp.url, '--json']),
      run(['device', 'self-test', '--port', tcp.url]), // one PTY serves one host at a time, like a real port
    ]);
    expect(ping.code).toBe(0);
    expect(JSON.parse(ping.stdout)).toMatchObject({ bytes: 7609 });
    expect([wink.code, wink.stdout]).toEqual([0, 'winked\n']);
    expect(time.code).toBe(0);
    expect(JSON.parse(time.stdout)).toMatchObject({ valid: true });
    expect([st.code, st.stdout]).toEqual([0, 'self-test passed\n']);
  });

  it('--help documents every subcommand', async () => {
    const r = await run(['device', '--help']);
    expect(r.code).toBe(0);
    for (const sub of ['info', 'ping', 'wink', 'time', 'self-test']) expect(r.stdout).toContain(`device ${sub}`);
  });
});

describe('tokenforge device: bad input is one line and a non-zero exit', () => {
  it('an unknown port path → exit 2', async () => {
    const r = await run(['device', 'info', '--port', '/dev/ttyTOKENFORGE-NONE']);
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toMatch(/no such serial port/);
  });

  it('a missing --port and a bad --size → exit 2', async () => {
    const [a, b] = await Promise.all([run(['device', 'info']), run(['device', 'ping', '--port', tcp.url, '--size', '9000'])]);
    expect(a.code).toBe(2);
    expect(oneErrorLine(a.stderr)).toMatch(/--port/);
    expect(b.code).toBe(2);
    expect(oneErrorLine(b.stderr)).toMatch(/--size/);
  });

  describe('ports that are not tokens', () => {
    let pair: PtyPair;
    let peer: ByteLink;
    let mode: 'silent' | 'echo' | 'text' = 'silent';
    beforeAll(async () => {
      pair = await socatPtyPair();
      peer = await openSerialLink(pair.b);
      peer.onData((chunk) => {
        if (mode === 'echo') void peer.write(chunk.slice());
        if (mode === 'text') void peer.write(new TextEncoder().encode('AT+OK\r\nready>\r\n'));
      });
    });
    afterAll(async () => {
      await peer?.close();
      await pair?.close();
    });

    it('a silent PTY → timeout, exit 1', async () => {
      mode = 'silent';
      const r = await run(['device', 'info', '--port', pair.a, '--timeout-ms', '200']);
      expect(r.code).toBe(1);
      expect(oneErrorLine(r.stderr)).toMatch(/no answer to INIT within 200 ms/);
    });

    it('an echoing PTY → not a token, exit 1', async () => {
      mode = 'echo';
      const r = await run(['device', 'info', '--port', pair.a, '--timeout-ms', '200']);
      expect(r.code).toBe(1);
      expect(oneErrorLine(r.stderr)).toMatch(/not with tokenforge INIT responses/);
    });

    it('a PTY that answers text → not a token, exit 1', async () => {
      mode = 'text';
      const r = await run(['device', 'time', '--port', pair.a, '--timeout-ms', '200']);
      expect(r.code).toBe(1);
      expect(oneErrorLine(r.stderr)).toMatch(/is this a tokenforge token\?/);
    });
  });

  it('a refused TCP port → exit 1', async () => {
    const r = await run(['device', 'info', '--port', 'tcp://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(oneErrorLine(r.stderr)).toMatch(/cannot connect/);
  });
});
