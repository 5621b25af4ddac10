/**
 * The memory layout of the HMAC kernel modules, shared by the generator (kernel-gen.ts, build time) and the
 * runtime loader (kernels.ts), so the two cannot disagree about where a kernel reads and writes.
 *
 * One 64 KiB page, shared by all engines of the process:
 *   PAD_IN  0..63     inner chaining state (32-bit words; SHA-512 as hi/lo pairs)
 *   PAD_OUT 64..127   outer chaining state
 *   DIG     256..383  outer digests of the current group (lane-interleaved), for the truncation
 *   RES     512..527  values of the current group (find/one)
 *   OUT     1024..    batch output, CHUNK values (+ one group of slack)
 *
 * Hash kinds are numbered 0 SHA-1, 1 SHA-256, 2 SHA-512: the export names carry the number (`batch0`, ...).
 */
export const PAD_IN = 0;
export const PAD_OUT = 64;
export const DIG = 256;
export const RES = 512;
export const OUT = 1024;
/** Counters per driver call (4096 values = 16 KiB from OUT, well inside the page). */
export const CHUNK = 4096;
