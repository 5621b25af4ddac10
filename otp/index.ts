/** Public surface of otp/: pure OTP math, no I/O. */
export * from './errors.ts';
export * from './secret.ts';
export * from './params.ts';
export * from './hex.ts';
export * from './compare.ts';
export * from './totp.ts';
export * from './hotp.ts';
export * from './base32.ts';
export * from './uri.ts';
export * from './ocra.ts';
export * from './otp-params.ts';
export { createHotpEngine, type HotpEngine, type HotpEngineOptions } from './engine.ts';
export { hotpReference, hotpValueReference, hmacReference, counterBytes, dynamicTruncate } from './reference.ts';
