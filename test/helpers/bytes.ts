/**
 * Byte helpers for tests that tamper with encodings.
 * @module
 */
import { at } from "../../bindings/util/index.ts";

/** XORs `mask` into `bytes[index]` in place; an index outside the bytes is a broken test. */
export function xorAt(bytes: Uint8Array, index: number, mask: number): void {
  bytes[index] = at(bytes, index) ^ mask;
}
