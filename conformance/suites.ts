/** The registry of conformance suites; `tokenforge conformance run --suite NAME|all` looks them up here. */
import type { Suite } from './types.ts';
import { otpSuite } from './suites/otp.ts';
import { verifierSuite } from './suites/verifier.ts';
import { transportSuite } from './suites/transport.ts';

export const SUITES: Suite[] = [otpSuite, verifierSuite, transportSuite];

export function findSuite(name: string): Suite | undefined {
  return SUITES.find((s) => s.name === name);
}
