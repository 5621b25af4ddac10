/**
 * Public surface of firmware-sim/ (docs/simulator.md): the device core and its ports, the simulator's own
 * port models, the flash model and store, profiles, the fleet simulation, and the host runners. Test doubles
 * (testing/) are not part of it.
 */
export { ManualClock, ScaledClock } from './clocks.ts';
export { Device, type DeviceOptions } from './device.ts';
export { SimError, PowerCut, isPowerCut, type SimErrorCode } from './errors.ts';
export { checkFaults, parseClockJump, type Faults } from './faults.ts';
export { RamFlash, DEFAULT_GEOMETRY, type PowerCutPlan } from './flash.ts';
export { simulateFleet, expectedOffsetMs, type FleetOptions, type FleetReport, type FleetBucket } from './fleet.ts';
export { AlwaysPressedButton, LatchedButton, NULL_LOG, RecordingDisplay, type DisplayEvent } from './peripherals.ts';
export { WORD_SIZE, type Button, type Clock, type Display, type Flash, type FlashGeometry, type Log, type LogLevel, type Rng } from './ports.ts';
export { loadProfile, parseProfile, profileNames, formatSerial, drawUnit, slotCount, type Profile, type UnitDraw } from './profiles.ts';
export { Rtc, YEAR_MS, type RtcParams, type RtcState } from './rtc.ts';
export { SeededRng } from './seeded-rng.ts';
export { KvStore, type StoreOp, type StoreStats } from './store.ts';
export { STORE_KEYS } from './store-keys.ts';
export { TokenStore, readTokenState, type TokenState, type SlotConfig, type Lifecycle } from './token-state.ts';
export { AesGcmVault, type Vault } from './vault.ts';
export { loadFlashImage, saveFlashImage } from './host/files.ts';
export { loadProfileDir } from './host/profile-files.ts';
export { SimToken, type SimTokenOptions } from './host/sim-token.ts';
export { startSimulator, drawFirstSerialSeq, type Simulator, type SimulatorOptions, type RunningToken, type LinkKind } from './host/runners.ts';
export { CryptoRng, SystemClock } from './host/system.ts';
