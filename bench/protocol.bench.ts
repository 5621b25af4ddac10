/**
 * `npm run bench protocol`: throughput of the wire codecs and the size of one provisioning exchange.
 *
 *  - frames/s: serial frame encode (report → 71 bytes) and streaming decode (FrameDecoder over a byte stream
 *    cut into 64-byte chunks, CRC checked);
 *  - reports: split and reassemble a maximum (7609-byte) message;
 *  - messages/s: PUT_SLOT request encode and decode (canonical CBOR, strict schema);
 *  - a live round trip: TokenClient GET_INFO against the reference responder over an in-memory link;
 *  - bytes on the wire for one full provisioning exchange (INIT, GET_INFO, AUTHENTICATE, PUT_SLOT, CALCULATE,
 *    LOCK), counted from the real messages: over the serial carriage (71 bytes per report) and over USB-HID
 *    (64 bytes per report).
 *
 * Method: each figure is the median of RUNS runs; a run repeats the operation for at least RUN_MS of process
 * CPU time (not wall time, so other processes on a loaded machine disturb the figures less).
 */
import { TokenClient } from '../protocol/client.ts';
import { serveLink } from '../protocol/links/endpoint.ts';
import { parsePacket } from '../protocol/hid/packet.ts';
import { MessageAssembler, reportCount, splitMessage } from '../protocol/hid/assembler.ts';
import { decodeRequest, encodeRequest, encodeResponse, type DeviceInfo, type SlotParams, type Request } from '../protocol/messages.ts';
import { createReferenceResponder, seededRng } from '../protocol/reference-responder.ts';
import { CAPABILITY, HID_CMD, INIT_RESPONSE_SIZE, MAX_MESSAGE_SIZE, REPORT_SIZE } from '../protocol/registry.ts';
import { encodeFrame, FRAME_WIRE_SIZE, FrameDecoder } from '../protocol/serial.ts';
import { TEST_ATTESTATION_SECRET_KEY } from '../protocol/test-attestation-key.ts';
import { FramedTransport } from '../protocol/framed-transport.ts';
import { memoryLinkPair } from '../protocol/links/memory.ts';
import { generateKeyPair, keyCheckValue, signAttestation, wrapPin, wrapSeed } from '../protocol/wrap.ts';

const RUNS = 7;
const RUN_MS = 60;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median operations per CPU second of `op` (which performs `perCall` operations). */
function opsPerSec(op: () => void, perCall = 1): number {
  for (let i = 0; i < 50; i++) op(); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = cpuMs();
    let t = t0;
    while (t - t0 < RUN_MS) {
      op();
      n++;
      if ((n & 7) === 0) t = cpuMs();
    }
    t = cpuMs();
    rates.push((n * perCall * 1000) / (t - t0));
  }
  rates.sort((a, b) => a - b);
  return rates[RUNS >> 1]!;
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1));

export interface ExchangeSize {
  step: string;
  requestBytes: number;
  responseBytes: number;
  reports: number;
}

/** The messages of one provisioning exchange, built with the real codecs. */
export function provisioningExchange(): ExchangeSize[] {
  const rng = seededRng(1);
  const dev = generateKeyPair(rng);
  const serial = 'TF00000001';
  const info: DeviceInfo = {
    model: 'tokenforge TF-1 (one HOTP slot)',
    firmwareVersion: '1.0.0',
    serial,
    capabilities: CAPABILITY.HOTP | CAPABILITY.BUTTON | CAPABILITY.DISPLAY,
    slotCount: 1,
    slotsUsed: 0,
    state: 'FACTORY',
    pinRetries: 8,
    devicePublicKey: dev.publicKey,
    attestationSignature: signAttestation(TEST_ATTESTATION_SECRET_KEY, serial, dev.publicKey),
  };
  const params: SlotParams = { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } };
  const seed = rng(20);
  const steps: Array<[string, Uint8Array, Uint8Array, number]> = [
    ['INIT', new Uint8Array(8), new Uint8Array(INIT_RESPONSE_SIZE), HID_CMD.INIT],
    ['GET_INFO', encodeRequest({ command: 'GET_INFO' }), encodeResponse('GET_INFO', info), HID_CMD.CBOR],
    ['AUTHENTICATE', encodeRequest({ command: 'AUTHENTICATE', wrappedPin: wrapPin({ devicePublicKey: dev.publicKey, serial, pin: '12345678', rng }) }), encodeResponse('AUTHENTICATE', { pinRetries: 8 }), HID_CMD.CBOR],
    ['PUT_SLOT', encodeRequest({ command: 'PUT_SLOT', params, wrappedSeed: wrapSeed({ devicePublicKey: dev.publicKey, serial, params, seed, rng }) }), encodeResponse('PUT_SLOT', { kcv: keyCheckValue(seed) }), HID_CMD.CBOR],
    ['CALCULATE', encodeRequest({ command: 'CALCULATE', slot: 0 }), encodeResponse('CALCULATE', { code: '123456', counter: 0n }), HID_CMD.CBOR],
    ['LOCK', encodeRequest({ command: 'LOCK' }), encodeResponse('LOCK', {}), HID_CMD.CBOR],
  ];
  return steps.map(([step, req, res]) => ({ step, requestBytes: req.length, responseBytes: res.length, reports: reportCount(req.length) + reportCount(res.length) }));
}

export async function run(): Promise<void> {
  const rng = seededRng(7);
  const reports = Array.from({ length: 64 }, () => rng(REPORT_SIZE));
  let i = 0;
  const encodeRate = opsPerSec(() => {
    encodeFrame(reports[i++ & 63]!);
  });

  const stream = Uint8Array.from(reports.flatMap((r) => [...encodeFrame(r)]));
  const decoder = new FrameDecoder();
  const decodeRate = opsPerSec(() => {
    for (let o = 0; o < stream.length; o += 64) decoder.push(stream.subarray(o, o + 64));
  }, reports.length);

  const big = rng(MAX_MESSAGE_SIZE);
  const asm = new MessageAssembler({ otherChannel: 'busy' });
  const splitRate = opsPerSec(() => {
    for (const r of splitMessage(0x11223344, HID_CMD.PING, big)) asm.push(parsePacket(r)!, 0);
  });

  const params: SlotParams = { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } };
  const dev = generateKeyPair(rng);
  const put: Request = { command: 'PUT_SLOT', params, wrappedSeed: wrapSeed({ devicePublicKey: dev.publicKey, serial: 'TF1', params, seed: rng(20), rng }) };
  const putBytes = encodeRequest(put);
  const cborEncodeRate = opsPerSec(() => {
    encodeRequest(put);
  });
  const cborDecodeRate = opsPerSec(() => {
    decodeRequest(putBytes);
  });

  // Live round trips (wall clock: includes the event loop and async delivery).
  const [a, b] = memoryLinkPair();
  const ep = serveLink(b, createReferenceResponder({ rng: seededRng(3) }));
  const client = await TokenClient.open(new FramedTransport(a));
  const N = 300;
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let k = 0; k < N; k++) await client.info();
    times.push((performance.now() - t0) / N);
  }
  times.sort((x, y) => x - y);
  await client.close();
  await ep.close();

  console.log('| operation | median |');
  console.log('|---|---|');
  console.log(`| serial frame encode (64-byte report → 71 bytes) | ${fmt(encodeRate)} frames/s |`);
  console.log(`| serial frame decode (streaming, CRC checked) | ${fmt(decodeRate)} frames/s (${fmt(decodeRate * FRAME_WIRE_SIZE)}B/s of wire) |`);
  console.log(`| split + reassemble a 7609-byte message (129 reports) | ${fmt(splitRate)} messages/s |`);
  console.log(`| PUT_SLOT request encode (${putBytes.length} bytes, canonical CBOR, self-checked) | ${fmt(cborEncodeRate)} messages/s |`);
  console.log(`| PUT_SLOT request decode (strict) | ${fmt(cborDecodeRate)} messages/s |`);
  console.log(`| TokenClient GET_INFO round trip, in-memory link, reference responder | ${times[2]!.toFixed(3)} ms |`);

  const ex = provisioningExchange();
  let totalReports = 0;
  let payload = 0;
  console.log('\nBytes on the wire for one provisioning exchange (one HOTP slot, 20-byte seed):\n');
  console.log('| step | request bytes | response bytes | reports | serial bytes | USB-HID bytes |');
  console.log('|---|---|---|---|---|---|');
  for (const s of ex) {
    totalReports += s.reports;
    payload += s.requestBytes + s.responseBytes;
    console.log(`| ${s.step} | ${s.requestBytes} | ${s.responseBytes} | ${s.reports} | ${s.reports * FRAME_WIRE_SIZE} | ${s.reports * REPORT_SIZE} |`);
  }
  console.log(`| total | | | ${totalReports} | ${totalReports * FRAME_WIRE_SIZE} | ${totalReports * REPORT_SIZE} |`);
  console.log(`\nmessage payload ${payload} bytes; serial carriage overhead ${((totalReports * FRAME_WIRE_SIZE) / payload).toFixed(2)}x payload (64-byte report padding + COBS + CRC + delimiters)`);
  console.log(`at 115200 baud (8N1, 11520 bytes/s): ${(((totalReports * FRAME_WIRE_SIZE) / 11520) * 1000).toFixed(0)} ms of line time per token`);
}
