/**
 * Public surface of firmware-sim/ (docs/simulator.md): the device core and its ports, the flash model and
 * store, profiles, the fleet simulation, and the host runners.
 */
export { Device, type DeviceOptions } from './device.ts';
export { SimError, PowerCut, isPowerCut, type SimErrorCode } from './errors.ts';
export { checkFaults, parseClockJump, type Faults } from './faults.ts';
export { RamFlash, DEFAULT_GEOMETRY, type Flash, type FlashGeometry, type PowerCutPlan } from './flash.ts';
export { simulateFleet, expectedOffsetMs, type FleetOptions, type FleetReport, type FleetBucket } from './fleet.ts';
export * from './ports.ts';
export { loadProfile, parseProfile, profileNames, formatSerial, drawUnit, slotCount, type Profile, type UnitDraw } from './profiles.ts';
export { Rtc, YEAR_MS, type RtcParams, type RtcState } from './rtc.ts';
export { KvStore, type StoreOp, type StoreStats } from './store.ts';
export { STORE_KEYS } from './store-keys.ts';
export { TokenStore, readTokenState, type TokenState, type SlotConfig, type Lifecycle } from './token-state.ts';
export { AesGcmVault, type Vault } from './vault.ts';
export { SimToken, type SimTokenOptions } from './host/sim-token.ts';
export { startSimulator, drawFirstSerialSeq, type Simulator, type SimulatorOptions, type RunningToken, type LinkKind } from './host/runners.ts';
