/**
 * Development script, not imported by the library: regenerates kernels.generated.ts (the base64 of the two
 * kernel modules) from the generator in kernel-gen.ts/gen.ts/asm.ts. Run `npx tsx otp/wasm/build.ts` after
 * changing the generator; test/otp/engine-wasm.test.ts fails when the committed bytes and the generator
 * disagree, and when the runtime (kernels.ts, engine.ts) reaches the generator.
 *
 * Why commit the bytes at all: generating the modules takes a few hundred milliseconds of cold JavaScript,
 * which every `tokenforge` command would pay; decoding the committed bytes takes about a millisecond.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedSource } from './kernel-gen.ts';

writeFileSync(fileURLToPath(new URL('./kernels.generated.ts', import.meta.url)), generatedSource());
