#!/usr/bin/env node
// Development entry of the `tokenforge` command: registers tsx's loader and runs cli/bin.ts from the sources,
// without a build (`node cli/dev.js otp hotp ...`). Users and the tests run the build, dist/tokenforge.js.
import { register } from 'tsx/esm/api';

register();
await import('./bin.ts');
