/**
 * `TokenClient`: the host side of the protocol (docs/protocol.md §7) over any Transport.
 *
 *   const client = await TokenClient.open(await openTransport('/dev/ttyACM0'), { trustAnchors: [factoryKey] });
 *   const info = await client.info();
 *   await client.authenticate('123456');
 *   const { kcv } = await client.putSlot({ slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } }, seed);
 *   const { code } = await client.calculate(0);
 *   await client.close();
 *
 * Rules it implements:
 *  - `open` allocates a channel with INIT on the broadcast channel (8-byte nonce; answers whose nonce does not
 *    match are ignored, so several hosts can share a link).
 *  - One transaction at a time (calls are queued). Before each, queued stale reports are discarded.
 *  - KEEPALIVE packets extend the deadline by `timeoutMs`, up to `userPresenceTimeoutMs` in total, and are
 *    reported to `onKeepalive` (UPNEEDED: ask the user to press the button).
 *  - An AbortSignal sends CANCEL on the channel; the call then rejects with code CANCELLED.
 *  - Idempotent requests (GET_INFO, GET_SLOT, GET_TIME, SELF_TEST, PING, WINK) are retried `retries` times
 *    after a timeout, a corrupted answer or a report-layer error that means the exchange was damaged
 *    (INVALID_SEQ, MSG_TIMEOUT, CHANNEL_BUSY, INVALID_CHANNEL); before a retry the channel is resynchronised
 *    with INIT (or re-allocated after INVALID_CHANNEL, e.g. a token that rebooted). Other requests are never
 *    resent: their timeout error says that the outcome is unknown.
 *  - Secrets (PIN, seed) are only sent wrapped to a device key whose attestation verifies against
 *    `trustAnchors`; without trust anchors, authenticate/putSlot refuse to run. A verification is remembered
 *    for the client's life, keyed by the exact (serial, device key, signature) it checked: later wraps to the
 *    same key skip the ECDSA check; if `info()` brings back anything else, it is verified again before use.
 *    The trust anchors are the ones given to `open` (changing that array afterwards is not supported).
 *  - Every failure is a ProtocolError: device statuses keep their registry name as `code`, report-layer
 *    errors are `HID_<name>`, host failures use the HostErrorCode names.
 */
import type { Secret } from '../otp/secret.ts';
import { ByteReader } from './bytes.ts';
import { ProtocolError, type ProtocolErrorCode } from './errors.ts';
import { parsePacket } from './hid/packet.ts';
import { MessageAssembler, splitMessage } from './hid/assembler.ts';
import {
  decodeResponse,
  encodeRequest,
  type DeviceInfo,
  type Request,
  type ResponseBody,
  type SlotParams,
} from './messages.ts';
import {
  BROADCAST_CID,
  HID_CMD,
  hidErrorName,
  INIT_NONCE_SIZE,
  INIT_RESPONSE_SIZE,
  KEEPALIVE_STATUS,
  MAX_MESSAGE_SIZE,
  type CommandName,
  type KeepaliveStatusName,
  type StatusName,
} from './registry.ts';
import type { Transport } from './transport.ts';
import { keyCheckValue, verifyAttestation, wrapPin, wrapSeed, type Rng } from './wrap.ts';
import { randomBytes } from '@noble/hashes/utils.js';
import { timingSafeEqualBytes } from '../otp/compare.ts';
import { bytesToHex } from '../otp/hex.ts';

export interface TokenClientOptions {
  /** Longest wait for the next report of an answer (and for INIT), in ms. Default 1000. */
  timeoutMs?: number;
  /** Longest total wait while the token sends KEEPALIVE (waiting for the button). Default 30000. */
  userPresenceTimeoutMs?: number;
  /** Extra attempts for idempotent requests. Default 2. */
  retries?: number;
  /** Random bytes for nonces and ephemeral keys. Default: the OS CSPRNG. */
  rng?: Rng;
  /** Monotonic milliseconds. Default performance.now. */
  nowMs?: () => number;
  /** Called for each KEEPALIVE (e.g. print "touch the token"). */
  onKeepalive?: (status: KeepaliveStatusName) => void;
  /** Uncompressed P-256 public keys of trusted factory attestation keys. */
  trustAnchors?: readonly Uint8Array[];
}

export interface InitInfo {
  cid: number;
  protocolVersion: number;
  firmware: { major: number; minor: number; build: number };
  capabilities: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** One-line explanations of device statuses, for error messages. */
const STATUS_TEXT: Record<Exclude<StatusName, 'OK'>, string> = {
  INVALID_COMMAND: 'the token does not know this command',
  INVALID_PARAMETER: 'the token rejected a parameter value',
  INVALID_LENGTH: 'the token rejected the message length',
  INVALID_CBOR: 'the token could not parse the request (not canonical CBOR)',
  MISSING_PARAMETER: 'the request lacks a required parameter',
  UNEXPECTED_TYPE: 'a request parameter has the wrong type',
  UNKNOWN_KEY: 'the request has a key the token does not know',
  NOT_AUTHENTICATED: 'authenticate with the admin PIN first',
  PIN_INVALID: 'wrong PIN',
  PIN_BLOCKED: 'the PIN is blocked after too many wrong attempts; the token must be reset',
  WRONG_STATE: 'the token is not in a state that allows this command',
  SLOT_LOCKED: 'the token is locked; slots are immutable',
  NO_SUCH_SLOT: 'the token has no such slot',
  SLOT_EMPTY: 'the slot is empty',
  UNWRAP_FAILED: 'the token could not unwrap the data (wrong device key, serial or slot parameters)',
  TIME_ROLLBACK: 'the token refused to move its clock backwards (use allowRollback)',
  UNSUPPORTED: 'the token does not support this command or parameter',
  OPERATION_DENIED: 'the user declined',
  KEEPALIVE_CANCEL: 'the request was cancelled',
  USER_ACTION_TIMEOUT: 'nobody pressed the button in time',
  SELF_TEST_FAILED: 'the token failed its self-test',
  STORAGE_FAILURE: 'the token could not write its flash',
  COUNTER_EXHAUSTED: 'the HOTP counter reached its maximum',
  RTC_INVALID: 'the token clock is not set (battery lost?); set the time first',
  OTHER: 'the token reported an unspecified error',
};

const IDEMPOTENT: ReadonlySet<CommandName> = new Set(['GET_INFO', 'GET_SLOT', 'GET_TIME', 'SELF_TEST']);
const RETRYABLE: ReadonlySet<ProtocolErrorCode> = new Set(['TIMEOUT', 'BAD_RESPONSE', 'HID_INVALID_SEQ', 'HID_MSG_TIMEOUT', 'HID_CHANNEL_BUSY', 'HID_INVALID_CHANNEL']);

/** Identity of one attestation check: serial, device public key and signature, unambiguously joined. */
function attestationKey(info: DeviceInfo): string {
  return `${bytesToHex(info.devicePublicKey)}.${bytesToHex(info.attestationSignature)}.${info.serial}`;
}

export class TokenClient {
  readonly transport: Transport;
  readonly #opts: Required<Omit<TokenClientOptions, 'onKeepalive' | 'trustAnchors'>> & {
    onKeepalive: TokenClientOptions['onKeepalive'] | undefined;
    trustAnchors: TokenClientOptions['trustAnchors'] | undefined;
  };
  #init: InitInfo | undefined;
  #info: DeviceInfo | undefined;
  /** attestationKey() of the last info whose attestation verified against the trust anchors. */
  #attested: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(transport: Transport, options: TokenClientOptions) {
    this.transport = transport;
    this.#opts = {
      timeoutMs: options.timeoutMs ?? 1000,
      userPresenceTimeoutMs: options.userPresenceTimeoutMs ?? 30_000,
      retries: options.retries ?? 2,
      rng: options.rng ?? randomBytes,
      nowMs: options.nowMs ?? (() => performance.now()),
      onKeepalive: options.onKeepalive,
      trustAnchors: options.trustAnchors,
    };
  }

  /** Allocates a channel on `transport` (INIT on the broadcast channel). */
  static async open(transport: Transport, options: TokenClientOptions = {}): Promise<TokenClient> {
    const c = new TokenClient(transport, options);
    c.#init = await c.#allocate(BROADCAST_CID);
    return c;
  }

  /** The INIT answer: channel, CTAPHID version, firmware version bytes, capability flags. */
  get initInfo(): InitInfo {
    if (!this.#init) throw new ProtocolError('CLOSED', 'client: not open');
    return this.#init;
  }

  get cid(): number {
    return this.initInfo.cid;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.transport.close();
  }

  // -------------------------------------------------------------------------------------------------------
  // Report layer

  /** INIT with a fresh nonce on `cid` (broadcast: allocate; own channel: resync). */
  async #allocate(cid: number): Promise<InitInfo> {
    let foreign = 0;
    const attempts = this.#opts.retries + 1;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const nonce = this.#opts.rng(INIT_NONCE_SIZE).slice(0, INIT_NONCE_SIZE);
      this.transport.drain();
      await this.transport.send(splitMessage(cid, HID_CMD.INIT, nonce));
      const deadline = this.#opts.nowMs() + this.#opts.timeoutMs;
      for (;;) {
        const left = deadline - this.#opts.nowMs();
        if (left <= 0) break;
        const report = await this.transport.receive(left);
        if (!report) break;
        const p = parsePacket(report);
        if (!p || p.kind !== 'init' || p.cid !== cid || p.cmd !== HID_CMD.INIT || p.bcnt !== INIT_RESPONSE_SIZE) {
          if (!(p && p.cid !== cid && p.cid !== BROADCAST_CID)) foreign++;
          continue;
        }
        const d = p.data;
        let match = true;
        for (let i = 0; i < INIT_NONCE_SIZE; i++) if (d[i] !== nonce[i]) match = false;
        if (!match) continue; // another host's INIT
        const r = new ByteReader(d.subarray(INIT_NONCE_SIZE, INIT_RESPONSE_SIZE), { endian: 'big', what: 'INIT response' });
        const newCid = r.u32();
        if (newCid === 0 || newCid === BROADCAST_CID || (cid !== BROADCAST_CID && newCid !== cid)) {
          foreign++;
          continue;
        }
        const protocolVersion = r.u8();
        const firmware = { major: r.u8(), minor: r.u8(), build: r.u8() };
        return { cid: newCid, protocolVersion, firmware, capabilities: r.u8() };
      }
    }
    const s = this.transport.stats;
    const badFrames = s.crcErrors + s.lengthErrors + s.overflows;
    if (foreign > 0 || badFrames > 0 || s.bytesIn > 0) {
      throw new ProtocolError('NOT_A_TOKEN', `${this.transport.target}: the device answered, but not with tokenforge INIT responses (${s.bytesIn} bytes, ${foreign} unexpected reports, ${badFrames} bad frames); is this a tokenforge token?`);
    }
    throw new ProtocolError('TIMEOUT', `${this.transport.target}: no answer to INIT within ${this.#opts.timeoutMs} ms (${attempts} attempts); is a token connected and powered?`);
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(f, f);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** One request/answer exchange on our channel; returns the answer payload of command `cmd`. */
  async #exchange(cmd: number, payload: Uint8Array, options: CallOptions): Promise<Uint8Array> {
    if (this.#closed) throw new ProtocolError('CLOSED', 'client: closed');
    if (payload.length > MAX_MESSAGE_SIZE) throw new ProtocolError('INVALID_ARGUMENT', `payload: ${payload.length} bytes exceeds ${MAX_MESSAGE_SIZE}`);
    const cid = this.cid;
    const { signal } = options;
    if (signal?.aborted) throw new ProtocolError('CANCELLED', 'request cancelled before it was sent');
    this.transport.drain();
    await this.transport.send(splitMessage(cid, cmd, payload));
    const now = this.#opts.nowMs;
    const asm = new MessageAssembler({ otherChannel: 'ignore', interPacketTimeoutMs: this.#opts.timeoutMs });
    const upDeadline = now() + this.#opts.userPresenceTimeoutMs;
    let deadline = now() + this.#opts.timeoutMs;
    let cancelSent = false;
    let waitingForUser = false;
    const sendCancel = (): void => {
      if (cancelSent) return;
      cancelSent = true;
      this.transport.send(splitMessage(cid, HID_CMD.CANCEL, new Uint8Array(0))).catch(() => {});
    };
    signal?.addEventListener('abort', sendCancel, { once: true });
    try {
      for (;;) {
        const left = deadline - now();
        if (left <= 0) {
          if (signal?.aborted) throw new ProtocolError('CANCELLED', 'request cancelled; the token did not confirm the cancel');
          if (waitingForUser && now() >= upDeadline) {
            sendCancel();
            throw new ProtocolError('USER_ACTION_TIMEOUT', `no button press within ${this.#opts.userPresenceTimeoutMs} ms; the request was cancelled`);
          }
          throw new ProtocolError('TIMEOUT', `${this.transport.target}: no answer within ${this.#opts.timeoutMs} ms`);
        }
        const report = await this.transport.receive(signal ? Math.min(left, 50) : left);
        if (!report) continue;
        const p = parsePacket(report);
        if (!p || p.cid !== cid) continue;
        const ev = asm.push(p, now());
        if (ev.kind === 'partial') {
          deadline = now() + this.#opts.timeoutMs;
          continue;
        }
        if (ev.kind === 'ignored') continue;
        if (ev.kind === 'error') throw new ProtocolError('BAD_RESPONSE', `${this.transport.target}: damaged answer (${ev.error})`);
        if (ev.cmd === HID_CMD.KEEPALIVE) {
          const status = ev.payload[0] === KEEPALIVE_STATUS.UPNEEDED ? 'UPNEEDED' : 'PROCESSING';
          this.#opts.onKeepalive?.(status);
          waitingForUser = true;
          deadline = Math.min(now() + this.#opts.timeoutMs, upDeadline);
          continue;
        }
        if (ev.cmd === HID_CMD.ERROR) {
          const name = hidErrorName(ev.payload[0] ?? 0x7f) ?? 'OTHER';
          throw new ProtocolError(`HID_${name}`, `${this.transport.target}: the token answered ERROR ${name}`);
        }
        if (ev.cmd !== cmd) throw new ProtocolError('BAD_RESPONSE', `${this.transport.target}: answer to command 0x${cmd.toString(16)} came back as 0x${ev.cmd.toString(16)}`);
        if (signal?.aborted && cmd === HID_CMD.CBOR && ev.payload.length === 1) throw new ProtocolError('CANCELLED', 'request cancelled');
        return ev.payload;
      }
    } finally {
      signal?.removeEventListener('abort', sendCancel);
    }
  }

  /** Runs `f`, retrying (after resynchronising the channel) when `idempotent` and the failure is retryable. */
  async #withRetry<T>(idempotent: boolean, f: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        const retry = idempotent && attempt < this.#opts.retries && RETRYABLE.has(e.code);
        if (!retry) {
          if (!idempotent && e.code === 'TIMEOUT') throw new ProtocolError('TIMEOUT', `${e.message}; the outcome is unknown (not retried: the request is not idempotent)`, { cause: e });
          throw e;
        }
        try {
          this.#init = await this.#allocate(e.code === 'HID_INVALID_CHANNEL' ? BROADCAST_CID : this.cid);
        } catch (resyncError) {
          if (resyncError instanceof ProtocolError && resyncError.code === 'TIMEOUT' && attempt + 1 >= this.#opts.retries) throw e;
        }
      }
    }
  }

  /** PING: echoes `data` (0..7609 bytes). */
  ping(data: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    return this.#serial(() =>
      this.#withRetry(true, async () => {
        const back = await this.#exchange(HID_CMD.PING, data, {});
        if (!timingSafeEqualBytes(back, data)) throw new ProtocolError('BAD_RESPONSE', 'PING answer differs from the data sent');
        return back;
      }),
    );
  }

  /** WINK: the token identifies itself (LED, display). */
  wink(): Promise<void> {
    return this.#serial(() => this.#withRetry(true, async () => void (await this.#exchange(HID_CMD.WINK, new Uint8Array(0), {}))));
  }

  // -------------------------------------------------------------------------------------------------------
  // Message layer

  /** Sends one request and decodes the answer; non-OK statuses throw ProtocolError(status). */
  request<C extends CommandName>(req: Request & { command: C }, options: CallOptions = {}): Promise<ResponseBody<C>> {
    const bytes = encodeRequest(req);
    const command = req.command;
    return this.#serial(() =>
      this.#withRetry(IDEMPOTENT.has(command), async () => {
        const answer = await this.#exchange(HID_CMD.CBOR, bytes, options);
        const res = decodeResponse(command, answer);
        if (!res.ok) throw new ProtocolError('BAD_RESPONSE', `${command}: the token's answer does not parse (${res.reason})`);
        if (res.value.status !== 'OK') {
          const status = res.value.status;
          if (status === 'KEEPALIVE_CANCEL' && options.signal?.aborted) throw new ProtocolError('CANCELLED', `${command}: cancelled`);
          throw new ProtocolError(status, `${command}: ${STATUS_TEXT[status]} (status ${status})`);
        }
        return res.value.body;
      }),
    );
  }

  /** GET_INFO (cached for wrapping; `info()` always asks the token). */
  async info(): Promise<DeviceInfo> {
    const i = await this.request({ command: 'GET_INFO' });
    this.#info = i;
    return i;
  }

  /** Checks the device key's attestation against the trust anchors; returns the verified info. */
  async verifiedInfo(): Promise<DeviceInfo> {
    const anchors = this.#opts.trustAnchors;
    if (!anchors || anchors.length === 0) {
      throw new ProtocolError('ATTESTATION_INVALID', 'no trust anchors configured: pass trustAnchors (the factory attestation public keys; TEST_ATTESTATION_PUBLIC_KEY for the simulator)');
    }
    const info = this.#info ?? (await this.info());
    // Computed from the bytes we are about to wrap to, every time: a changed (or mutated) info never hits.
    const id = attestationKey(info);
    if (this.#attested === id) return info;
    if (!verifyAttestation(info, anchors)) {
      throw new ProtocolError('ATTESTATION_INVALID', `token ${info.serial}: its device key is not signed by a trusted attestation key; refusing to send secrets to it`);
    }
    this.#attested = id;
    return info;
  }

  /** AUTHENTICATE with the admin PIN (wrapped to the attested device key). Returns the PIN retries left. */
  async authenticate(pin: string): Promise<{ pinRetries: number }> {
    const info = await this.verifiedInfo();
    return this.request({ command: 'AUTHENTICATE', wrappedPin: wrapPin({ devicePublicKey: info.devicePublicKey, serial: info.serial, pin, rng: this.#opts.rng }) });
  }

  /** PUT_SLOT: wraps `seed` to the attested device key and checks the returned KCV against the seed. */
  async putSlot(params: SlotParams, seed: Secret | Uint8Array): Promise<{ kcv: Uint8Array }> {
    const info = await this.verifiedInfo();
    const wrappedSeed = wrapSeed({ devicePublicKey: info.devicePublicKey, serial: info.serial, params, seed, rng: this.#opts.rng });
    const res = await this.request({ command: 'PUT_SLOT', params, wrappedSeed });
    if (!timingSafeEqualBytes(res.kcv, keyCheckValue(seed))) throw new ProtocolError('BAD_RESPONSE', `PUT_SLOT: the token's key check value does not match the seed sent`);
    return res;
  }

  getSlot(slot: number): Promise<ResponseBody<'GET_SLOT'>> {
    return this.request({ command: 'GET_SLOT', slot });
  }

  async deleteSlot(slot: number): Promise<void> {
    await this.request({ command: 'DELETE_SLOT', slot });
  }

  async lock(): Promise<void> {
    await this.request({ command: 'LOCK' });
  }

  calculate(slot: number, options: CallOptions & { challenge?: string } = {}): Promise<ResponseBody<'CALCULATE'>> {
    const req: Request & { command: 'CALCULATE' } = options.challenge === undefined ? { command: 'CALCULATE', slot } : { command: 'CALCULATE', slot, challenge: options.challenge };
    return this.request(req, options.signal ? { signal: options.signal } : {});
  }

  async setTime(timeSec: bigint, options: { allowRollback?: boolean } = {}): Promise<void> {
    await this.request(options.allowRollback === undefined ? { command: 'SET_TIME', timeSec } : { command: 'SET_TIME', timeSec, allowRollback: options.allowRollback });
  }

  getTime(): Promise<ResponseBody<'GET_TIME'>> {
    return this.request({ command: 'GET_TIME' });
  }

  selfTest(): Promise<ResponseBody<'SELF_TEST'>> {
    return this.request({ command: 'SELF_TEST' });
  }

  /** RESET (factory reset): the token waits for the button; KEEPALIVE UPNEEDED meanwhile. */
  async reset(options: CallOptions = {}): Promise<void> {
    await this.request({ command: 'RESET' }, options);
  }
}
