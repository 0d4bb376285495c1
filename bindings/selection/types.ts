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
