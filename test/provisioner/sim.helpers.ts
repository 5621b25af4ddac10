/**
 * Test glue: a firmware-sim SimToken served on an in-memory link (protocol/links/memory.ts memoryLinkPair), as a
 * pipeline Target. The provisioner sees only a Transport, exactly as with hardware.
 */
import { SimToken } from '../../firmware-sim/host/sim-token.ts';
import { SystemClock } from '../../firmware-sim/host/system.ts';
import { TEST_ATTESTATION_PUBLIC_KEY } from '../../protocol/test-attestation-key.ts';
import { FramedTransport } from '../../protocol/framed-transport.ts';
import { memoryLinkPair, type MemoryLinkOptions } from '../../protocol/links/memory.ts';
import type { Target } from '../../provisioner/pipeline.ts';
import { clientSessionFactory, transportTarget } from '../../provisioner/targets.ts';

export interface MemSim {
  sim: SimToken;
  target: Target;
  /** Called with each chunk the token receives; return false to "unplug" (close the link) before it is handled. */
  filter?: (chunk: Uint8Array) => boolean;
}

export function memSim(profile: string, serialSeq: number, link: MemoryLinkOptions = {}): MemSim {
  const sim = new SimToken({ profile, serialSeq, clock: new SystemClock(), testMode: true });
  const m: MemSim = {
    sim,
    target: transportTarget(
      `memory:${sim.serial}`,
      async () => {
        const [host, dev] = memoryLinkPair(link, sim.serial);
        sim.output = (b) => void dev.write(b).catch(() => undefined);
        dev.onData((c) => {
          if (m.filter && !m.filter(c)) {
            void dev.close();
            return;
          }
          sim.input(c);
        });
        const timer = setInterval(() => sim.tick(), 20);
        timer.unref();
        dev.onClose(() => clearInterval(timer));
        return new FramedTransport(host);
      },
      clientSessionFactory({ trustAnchors: [TEST_ATTESTATION_PUBLIC_KEY], timeoutMs: 3000, retries: 2 }),
    ),
  };
  return m;
}

export const TRUST = [TEST_ATTESTATION_PUBLIC_KEY];
