/**
 * !!! TEST-ONLY FACTORY ATTESTATION KEY — NEVER TRUST IT IN PRODUCTION !!!
 *
 * The private half is published here so that the firmware simulator, the reference responder, tests and
 * demos can issue device attestations (wrap.ts `signAttestation`). A production host must configure its own
 * trust anchors (the public keys of the real factory's attestation keys) and must not include
 * TEST_ATTESTATION_PUBLIC_KEY; the CLI accepts it only when told to (`--trust-test-attestation`).
 */
import { hexToBytes } from '../otp/hex.ts';

/** P-256 secret scalar (32 bytes). Anyone can sign with it: that is the point of a test key. */
export const TEST_ATTESTATION_SECRET_KEY: Uint8Array = hexToBytes('c4e1da1690e0a96e88b5092aa7f44cc7d7eefebdeb52fd625b26f8c8e7e7037e');

/** Its uncompressed public key (65 bytes). */
export const TEST_ATTESTATION_PUBLIC_KEY: Uint8Array = hexToBytes(
  '044b72f19a3dd1b6bd4c499a3f237cef8a4a72675aa1f01ba812e1fa1b8d5f28a2edd2288b2993959492065ad7235edcb33ad7c8ce94934a5a3467d52b8c1700f2',
);
