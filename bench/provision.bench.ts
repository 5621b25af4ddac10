/**
 * Provisioning throughput: N emulated tokens (default 1,000; PROVISION_BENCH_TOKENS) provisioned end to end —
 * identify, authenticate, write (seed wrapped to the device key), check (CALCULATE vs otp/), lock, register with
 * the REAL verifier (a separate `tokenforge verifier serve` process, HTTP keep-alive), commit in the SQLite
 * journal (WAL; records of concurrent workers group-committed, fsync'ed when a record needs it). Tokens are firmware-sim devices on in-memory links (as Transports), made
 * before the clock starts (tokens in the box). Target: >= 100 tokens/s on the 2-core machine.
 *
 * Also prints how the journal's records were grouped into transactions, and what one token costs in the
 * protocol's public-key operations (host: attestation check, PIN and seed wrapping; device: unwrapping) through
 * protocol/wrap.ts (node:crypto, OpenSSL), next to the bare node:crypto calls they are made of.
 */
import { createCipheriv, createECDH, generateKeyPairSync, hkdfSync, randomBytes, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../firmware-sim/host/runners.ts';
import { TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_SECRET_KEY } from '../protocol/test-attestation-key.ts';
import { generateKeyPair, signAttestation, unwrapSeed, verifyAttestation, wrapPin, wrapSeed } from '../protocol/wrap.ts';
import { Journal } from '../provisioner/journal/index.ts';
import { runPipeline } from '../provisioner/pipeline.ts';
import { createProgress } from '../provisioner/progress.ts';
import { createHttpRegistrar } from '../provisioner/registrar.ts';
import { generateSeeds, nodeRng } from '../provisioner/sources/generate.ts';
import { clientSessionFactory, transportTarget } from '../provisioner/targets.ts';
import { startVerifier } from '../test/provisioner/provision.helpers.ts';

function perOp(name: string, n: number, f: () => void): number {
  for (let i = 0; i < 3; i++) f();
  const t = performance.now();
  for (let i = 0; i < n; i++) f();
  const ms = (performance.now() - t) / n;
  console.log(`| ${name} | ${ms.toFixed(2)} ms |`);
  return ms;
}

export async function run(): Promise<void> {
  const n = Number(process.env['PROVISION_BENCH_TOKENS'] ?? 1000);
  const concurrency = Number(process.env['PROVISION_BENCH_CONCURRENCY'] ?? 32);
  const dir = mkdtempSync(join(tmpdir(), 'tf-provbench-'));
  const v = await startVerifier(dir);
  try {
    const t0 = performance.now();
    const sim = await startSimulator({ count: n, profile: 'hotp-fob', link: 'memory', testMode: true, firstSerialSeq: 1 });
    console.log(`${n} simulated tokens manufactured in ${((performance.now() - t0) / 1000).toFixed(1)} s (not counted)`);
    const journal = Journal.create({ path: join(dir, 'bench.journal'), seeds: generateSeeds(n, { type: 'hotp' }, nodeRng), settings: {}, key: { kind: 'file' } });
    const session = clientSessionFactory({ trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 30_000 });
    const targets = sim.tokens.map((t) => transportTarget(`sim:${t.serial}`, async () => t.openTransport!(), session));
    const report = await runPipeline({
      journal,
      targets,
      registrar: createHttpRegistrar({ url: v.url, apiKey: v.adminKey }),
      progress: createProgress({ mode: 'plain', write: () => {} }),
      adminPin: '123456',
      concurrency,
    });
    const failures = report.results.filter((r) => r.status === 'failed');
    console.log('| tokens | ok | failed | concurrency | seconds | tokens/s |');
    console.log('|---|---|---|---|---|---|');
    console.log(`| ${n} | ${report.ok} | ${report.failed} | ${concurrency} | ${(report.durationMs / 1000).toFixed(1)} | ${report.tokensPerSec.toFixed(1)} |`);
    if (failures.length > 0) console.log(`first failure: ${failures[0]!.code}: ${failures[0]!.reason}`);
    const cs = journal.commitStats();
    console.log(`\njournal: ${cs.records} records in ${cs.transactions} group-committed transactions (${(cs.records / Math.max(1, cs.transactions)).toFixed(1)} records each), ${cs.durableTransactions} of them fsync'ed (${(cs.durableTransactions / Math.max(1, report.ok)).toFixed(2)} per token)`);
    journal.close();
    await sim.close();

    console.log('\nPublic-key work per token (protocol/wrap.ts on node:crypto / OpenSSL):\n');
    console.log('| operation | median-ish mean |');
    console.log('|---|---|');
    const kp = generateKeyPair();
    const sig = signAttestation(TEST_ATTESTATION_SECRET_KEY, 'S1', kp.publicKey);
    const params = { slot: 0, touch: 'never', otp: { type: 'hotp', algorithm: 'SHA1', digits: 6, counter: 0n } } as const;
    const a = perOp('host: verify attestation (once per session)', 20, () => verifyAttestation({ serial: 'S1', devicePublicKey: kp.publicKey, attestationSignature: sig }, [TEST_ATTESTATION_PUBLIC_KEY]));
    const b = perOp('host: wrap PIN', 20, () => wrapPin({ devicePublicKey: kp.publicKey, serial: 'S1', pin: '123456' }));
    const c = perOp('host: wrap seed', 20, () => wrapSeed({ devicePublicKey: kp.publicKey, serial: 'S1', params, seed: new Uint8Array(20) }));
    const blob = wrapSeed({ devicePublicKey: kp.publicKey, serial: 'S1', params, seed: new Uint8Array(20) });
    const d = perOp('device: unwrap seed (PIN alike)', 20, () => unwrapSeed({ deviceSecretKey: kp.secretKey, devicePublicKey: kp.publicKey, serial: 'S1', params, blob }));
    const perToken = a + b + c + 2 * d;
    console.log(`\npublic-key work ≈ ${perToken.toFixed(1)} ms of CPU per token → at most ${((2 * 1000) / perToken).toFixed(0)} tokens/s on 2 cores from this alone`);

    // The bare node:crypto calls wrap.ts is made of (no encoding, no checks): what is left above them is wrap.ts's own.
    console.log('\nThe bare node:crypto calls, for comparison:\n');
    console.log('| operation | mean |');
    console.log('|---|---|');
    const dev = createECDH('prime256v1');
    dev.generateKeys();
    const devPub = dev.getPublicKey();
    const { publicKey: attPub, privateKey: attPriv } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const msg = randomBytes(100);
    const sig2 = sign('sha256', msg, { key: attPriv, dsaEncoding: 'ieee-p1363' });
    const na = perOp('native: ECDSA P-256 verify', 200, () => void verify('sha256', msg, { key: attPub, dsaEncoding: 'ieee-p1363' }, sig2));
    const nb = perOp('native: wrap (ephemeral key, ECDH, HKDF-SHA256, AES-256-GCM)', 200, () => {
      const e = createECDH('prime256v1');
      e.generateKeys();
      const z = e.computeSecret(devPub);
      const k = Buffer.from(hkdfSync('sha256', z, Buffer.concat([e.getPublicKey(), devPub]), 'tokenforge-wrap-v1 seed', 32));
      const c = createCipheriv('aes-256-gcm', k, randomBytes(12));
      c.update(randomBytes(20));
      c.final();
      c.getAuthTag();
    });
    const native = na + 4 * nb;
    console.log(`\nbare node:crypto work ≈ ${native.toFixed(2)} ms per token (wrap.ts: ${(perToken / native).toFixed(2)}x that)`);
  } finally {
    await v.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
