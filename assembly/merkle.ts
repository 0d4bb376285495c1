/**
 * Bitcoin's merkle root: sha256d of the concatenated pair of child hashes, level by level, with the
 * last hash of an odd level paired with itself. Four pairs at a time go through the 4-lane path.
 * @module
 */
import { INPUT, INPUT_SIZE, OUTPUT } from "./io";
import { sha256dBytes, sha256dPairs4 } from "./sha256";
import { E_INPUT_TOO_LONG } from "./errors";

const ODD_PAIR: usize = memory.data(64, 16);

/**
 * One level of the tree: `count` 32-byte hashes at `src` → ⌈count/2⌉ parents at `dst` (`dst` may
 * equal `src`: parent i is written only after children 2i and 2i+1 were read). Returns the number
 * of parents.
 */
export function merkleLevel(src: usize, count: usize, dst: usize): usize {
  let pairs = count >> 1;
  let p: usize = 0;
  for (; p + 4 <= pairs; p += 4) sha256dPairs4(src + (p << 6), dst + (p << 5));
  for (; p < pairs; p++) sha256dBytes(src + (p << 6), 64, dst + (p << 5));
  if (count & 1) {
    let last = src + ((count - 1) << 5);
    memory.copy(ODD_PAIR, last, 32);
    memory.copy(ODD_PAIR + 32, last, 32);
    sha256dBytes(ODD_PAIR, 64, dst + (pairs << 5));
  }
  return pairs + (count & 1);
}

/**
 * `levels` tree levels over the `count` hashes in the input buffer, in place; returns the node
 * count of the last level. A single node still pairs with itself, so an aligned block of 2^levels
 * leaves (the last block possibly partial) yields its node `levels` levels up in the whole tree.
 */
export function merkleLevelsInput(count: usize, levels: u32): usize {
  if (count > INPUT_SIZE / 32) abort(E_INPUT_TOO_LONG);
  for (let i: u32 = 0; i < levels; i++) count = merkleLevel(INPUT, count, INPUT);
  return count;
}

/**
 * Merkle root of the `count` hashes in the input buffer (consumed) into the output buffer. No
 * hashes give 32 zero bytes (Bitcoin Core's `ComputeMerkleRoot` of an empty list).
 */
export function merkleRootInput(count: usize): void {
  if (count > INPUT_SIZE / 32) abort(E_INPUT_TOO_LONG);
  if (count == 0) {
    memory.fill(OUTPUT, 0, 32);
    return;
  }
  while (count > 1) count = merkleLevel(INPUT, count, INPUT);
  memory.copy(OUTPUT, INPUT, 32);
}
