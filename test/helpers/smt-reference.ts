/**
 * A naive sparse Merkle tree written straight from the definition in
 * bindings/engine/state-hash.ts, over node:crypto and sets of records (no shared code with the
 * engines): the reference the state tests compare both engines' roots with.
 */
import { createHash } from "node:crypto";

/** SHA-256 of the concatenated parts. */
export function sha(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const bit = (path: Uint8Array, d: number) => (path[d >> 3]! >> (7 - (d & 7))) & 1;

/** The root by definition, recursively: empty 0^32, one account its leaf, else H(left ‖ right). */
export function referenceRoot(records: Uint8Array[]): Uint8Array {
  const items = records.map((r) => ({ path: sha(r.subarray(0, 32)), leaf: sha(new Uint8Array([0]), r) }));
  const sub = (set: typeof items, d: number): Uint8Array => {
    if (set.length === 0) return new Uint8Array(32);
    if (set.length === 1) return set[0]!.leaf;
    return sha(
      sub(
        set.filter((x) => bit(x.path, d) === 0),
        d + 1,
      ),
      sub(
        set.filter((x) => bit(x.path, d) === 1),
        d + 1,
      ),
    );
  };
  return sub(items, 0);
}

/** Splits packed 48-byte records into single records. */
export function splitRecords(all: Uint8Array): Uint8Array[] {
  const recs: Uint8Array[] = [];
  for (let o = 0; o < all.length; o += 48) recs.push(all.slice(o, o + 48));
  return recs;
}
