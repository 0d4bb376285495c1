/**
 * Types and helpers shared by the selection state machine and its adapters.
 * @module
 */

/** A validator with voting power (address = 32-byte public key). */
export interface PoweredValidator {
  readonly address: Uint8Array;
  readonly power: number;
}

/** Most pending unbondings per validator (bounds the queue). */
export const UNBONDINGS_MAX = 64;

/** Byte order of addresses (ties in selection go to the smaller). */
export function compareAddresses(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Largest total voting power of a validator set: keeps consensus' proposer priorities (within
 * ±3·total) exact as plain numbers. Defined here, below consensus, because selection caps the
 * powers it hands up by it; consensus/validators.ts enforces it.
 */
export const TOTAL_POWER_MAX = 2 ** 48;
