/** Public surface of protocol/: the wire format (registries, codecs), wrapping, transports and the host client. */
export * from './registry.ts';
export * from './errors.ts';
export * from './cbor.ts';
export * from './messages.ts';
export * from './hid.ts';
export * from './wrap.ts';
export { TEST_ATTESTATION_PUBLIC_KEY, TEST_ATTESTATION_SECRET_KEY } from './test-attestation-key.ts';
export * from './serial.ts';
export type * from './transport.ts';
export * from './framed-transport.ts';
export * from './links/serial.ts';
export * from './links/tcp.ts';
export * from './links/memory.ts';
export * from './links/open.ts';
export * from './endpoint.ts';
export { createReferenceResponder, seededRng, type ReferenceResponder, type ReferenceResponderOptions } from './reference-responder.ts';
export { TokenClient, type TokenClientOptions, type InitInfo, type CallOptions } from './client.ts';
