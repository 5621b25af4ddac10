/**
 * THE registry of flash-store keys (STYLE.md rule 12: persistent formats only grow). A key, once shipped, keeps
 * its number and meaning forever; retired keys stay listed as retired and are never reused. Value layouts are
 * specified in docs/flash-format.md §3.
 */

export const STORE_KEYS = {
  /** 0x0000 is the store's own META item (retired page generation); see store.ts. */
  META: 0x0000,
  /** Serial number, profile name, device key pair (private key sealed). Written once at manufacture. */
  IDENTITY: 0x0001,
  /** Lifecycle: FACTORY / PROVISIONED / LOCKED. */
  LIFECYCLE: 0x0002,
  /** Admin PIN verifier (salt + hash), absent when no PIN is set. */
  PIN: 0x0003,
  /** PIN retries left and the maximum; 0 left = PIN-blocked. */
  PIN_RETRIES: 0x0004,
  /** Device settings: default slot, display time. */
  SETTINGS: 0x0005,
  /** Rollback guard: the highest time (s) ever set or seen by SET_TIME. */
  TIME_GUARD: 0x0006,
  /** Slot i configuration and sealed seed: SLOT_CONFIG_BASE + i, i in 0..255. */
  SLOT_CONFIG_BASE: 0x0100,
  /** Slot i HOTP/OCRA counter (u64): SLOT_COUNTER_BASE + i. Written BEFORE the code is shown. */
  SLOT_COUNTER_BASE: 0x0200,
} as const;

export const MAX_SLOTS = 256;

export function slotConfigKey(slot: number): number {
  return STORE_KEYS.SLOT_CONFIG_BASE + slot;
}

export function slotCounterKey(slot: number): number {
  return STORE_KEYS.SLOT_COUNTER_BASE + slot;
}
