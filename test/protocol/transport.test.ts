/**
 * One Transport contract suite, run against the three implementations: in memory (with forced short reads),
 * TCP over loopback, and serialport on a real PTY pair made by socat. Then the transport conformance suite and
 * a TokenClient round trip against the reference responder served over a PTY and over TCP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { bytesToHex } from '../../otp/hex.ts';
import { TokenClient } from '../../protocol/client.ts';
import { serveLink, serveTcp, type ReportDevice } from '../../protocol/links/endpoint.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import { createReferenceResponder, seededRng } from '../../protocol/reference-responder.ts';
import { encodeFrame } from '../../protocol/serial.ts';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { memoryLinkPair } from '../../protocol/links/memory.ts';
import { openSerialLink } from '../../protocol/links/serial.ts';
import { openTransport } from '../../protocol/links/open.ts';
import { socketLink } from '../../protocol/links/tcp.ts';
import type { ByteLink } from '../../protocol/transport.ts';
import { runTransportCases } from '../../conformance/suites/transport.ts';
import { HID_ERROR } from '../../protocol/registry.ts';
import { socatPtyPair, serveResponderOnPty } from './protocol.helpers.ts';

interface Rig {
  host: FramedTransport;
  peer: ByteLink;
  disconnect(): Promise<void>;
  cleanup(): Promise<void>;
}

const RIGS: Record<string, () => Promise<Rig>> = {
  async memory() {
    const [a, b] = memoryLinkPair({ maxChunk: 3, random: (() => { const r = seededRng(1); return () => r(1)[0]! / 256; })() });
    return { host: new FramedTransport(a), peer: b, disconnect: () => b.close(), cleanup: async () => { await a.close(); await b.close(); } };
  },
  async tcp() {
    let peerResolve!: (l: ByteLink) => void;
    const peerP = new Promise<ByteLink>((r) => (peerResolve = r));
    const server: Server = createServer((s) => peerResolve(socketLink(s, 'peer')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const host = (await openTransport(`tcp://127.0.0.1:${port}`)) as FramedTransport;
    const peer = await peerP;
    return {
      host,
      peer,
      disconnect: () => peer.close(),
      cleanup: async () => {
        await host.close();
        await peer.close();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  },
  async serial() {
    const pair = await socatPtyPair();
    const host = (await openTransport(pair.a)) as FramedTransport;
    const peer = await openSerialLink(pair.b);
    return {
      host,
      peer,
      disconnect: async () => {
        await peer.close();
        await pair.close();
      },
      cleanup: async () => {
        await host.close();
        await peer.close();
        await pair.close();
      },
    };
  },
};

const reports = (n: number, seed: number) => Array.from({ length: n }, (_, i) => seededRng(seed + i)(64));

describe.each(Object.keys(RIGS))('Transport contract: %s', (kind) => {
  let rig: Rig | undefined;
  const open = async (): Promise<Rig> => (rig = await RIGS[kind]!());
  afterEach(async () => {
    await rig?.cleanup();
    rig = undefined;
  });
  const echo = (r: Rig) => r.peer.onData((c) => void r.peer.write(c.slice()).catch(() => {}));

  it('delivers every report, in order, whatever the chunking (echo peer)', async () => {
    const r = await open();
    echo(r);
    const sent = reports(150, 100);
    await r.host.send(sent.slice(0, 1));
    await r.host.send(sent.slice(1));
    const got: string[] = [];
    for (let i = 0; i < sent.length; i++) {
      const rep = await r.host.receive(3000);
      expect(rep).toBeDefined();
      got.push(bytesToHex(rep!));
    }
    expect(got).toEqual(sent.map(bytesToHex));
    expect(r.host.stats.frames).toBe(150);
  });

  it('receive() resolves undefined on timeout, and a report that arrives later is still delivered', async () => {
    const r = await open();
    expect(await r.host.receive(50)).toBeUndefined();
    const [one] = reports(1, 7);
    await r.peer.write(encodeFrame(one!));
    expect(bytesToHex((await r.host.receive(3000))!)).toBe(bytesToHex(one!));
  });

  it('drops corrupt frames (counted), never delivers them, and keeps the next good one', async () => {
    const r = await open();
    const [a, b] = reports(2, 20);
    const bad = encodeFrame(a!);
    bad[30]! ^= 0x10;
    await r.peer.write(Uint8Array.of(...bad, 0x41, 0x42, ...encodeFrame(b!)));
    expect(bytesToHex((await r.host.receive(3000))!)).toBe(bytesToHex(b!));
    expect(r.host.stats.crcErrors + r.host.stats.lengthErrors).toBeGreaterThanOrEqual(1);
  });

  it('bounds the receive queue (oldest dropped, counted)', async () => {
    const r = await open();
    const many = reports(300, 40);
    await r.peer.write(Uint8Array.from(many.flatMap((x) => [...encodeFrame(x)])));
    const deadline = Date.now() + 5000;
    while (r.host.stats.frames < 300 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(r.host.stats.frames).toBe(300);
    expect(r.host.stats.queueDrops).toBe(44);
    expect(bytesToHex((await r.host.receive(100))!)).toBe(bytesToHex(many[44]!));
  });

  it('after close(): send and receive reject with CLOSED; a pending receive is released', async () => {
    const r = await open();
    const pending = expect(r.host.receive(5000)).rejects.toMatchObject({ code: 'CLOSED' });
    await r.host.close();
    await pending;
    await expect(r.host.send(reports(1, 1))).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(r.host.receive(10)).rejects.toBeInstanceOf(ProtocolError);
  });

  it('peer disconnect rejects a pending receive with DISCONNECTED', async () => {
    const r = await open();
    const pending = expect(r.host.receive(8000)).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await r.disconnect();
    await pending;
  });

  it('refuses reports that are not 64 bytes', async () => {
    const r = await open();
    await expect(r.host.send([new Uint8Array(10)])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('openTransport targets', () => {
  it('maps a missing path, a refused port and an unknown scheme to distinct codes', async () => {
    await expect(openTransport('/dev/tokenforge-no-such-port')).rejects.toMatchObject({ code: 'PORT_NOT_FOUND' });
    await expect(openTransport('/dev/null')).rejects.toMatchObject({ code: 'PORT_OPEN_FAILED', message: expect.stringMatching(/not a serial device/) });
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    await expect(openTransport(`tcp://127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'CONNECTION_REFUSED' });
    await expect(openTransport('udp://x:1')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(openTransport('tcp://x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('conformance suite against the reference responder', () => {
  it('passes every case over a real PTY (socat + serialport on both ends)', async () => {
    const served = await serveResponderOnPty(3);
    const t = (await openTransport(served.hostPath)) as FramedTransport;
    try {
      const results = await runTransportCases(t, { timeoutMs: 1500 });
      expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
      expect(results.length).toBeGreaterThanOrEqual(29);
      expect(served.endpoint.frameStats.crcErrors).toBeGreaterThan(0); // the bit-flip case really reached the device
    } finally {
      await t.close();
      await served.close();
    }
  });

  it('passes every case over TCP', async () => {
    const ep = await serveTcp(createReferenceResponder({ rng: seededRng(4) }));
    const t = (await openTransport(ep.url)) as FramedTransport;
    try {
      const results = await runTransportCases(t, { timeoutMs: 1500 });
      expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
    } finally {
      await t.close();
      await ep.close();
    }
  });

  it('fails the right cases for a device that ignores sequence errors and busy channels', async () => {
    const inner = createReferenceResponder({ rng: seededRng(5) });
    const isError = (r: Uint8Array, code: number) => (r[4]! & 0x7f) === 0x3f && r[7] === code;
    const broken: ReportDevice = {
      handleReport: (rep, now) => inner.handleReport(rep, now).filter((r) => !isError(r, HID_ERROR.INVALID_SEQ) && !isError(r, HID_ERROR.CHANNEL_BUSY)),
      tick: (now) => inner.tick(now),
    };
    const [a, b] = memoryLinkPair();
    const ep = serveLink(b, broken);
    const t = new FramedTransport(a);
    try {
      const results = await runTransportCases(t, { timeoutMs: 400 });
      const failed = results.filter((r) => r.status === 'fail').map((r) => r.name);
      expect(failed).toEqual(
        expect.arrayContaining([
          'skipped sequence number gets INVALID_SEQ',
          'busy channel: another channel gets CHANNEL_BUSY and the first message completes',
        ]),
      );
      expect(results.find((r) => r.name.startsWith('long ping'))!.status).toBe('pass');
    } finally {
      await t.close();
      await ep.close();
    }
  });
});

describe('TokenClient over a real PTY', () => {
  it('INIT, GET_INFO, GET_TIME, SELF_TEST, maximum PING and WINK round-trip through serialport', async () => {
    const served = await serveResponderOnPty(6);
    const client = await TokenClient.open(await openTransport(served.hostPath), { timeoutMs: 2000 });
    try {
      expect(client.initInfo.protocolVersion).toBe(2);
      const info = await client.info();
      expect(info.serial).toBe('REF-00000001');
      expect(bytesToHex(info.devicePublicKey)).toBe(bytesToHex(served.responder.keyPair.publicKey));
      expect((await client.getTime()).valid).toBe(true);
      expect(await client.selfTest()).toEqual({ passed: true, failed: [] });
      const data = seededRng(9)(7609);
      expect(bytesToHex(await client.ping(data))).toBe(bytesToHex(data));
      await client.wink();
      expect(served.responder.winks).toBe(1);
    } finally {
      await client.close();
      await served.close();
    }
  });
});
