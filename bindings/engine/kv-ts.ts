/**
 * The `ts` key-value store: a JS Map keyed by the key's bytes as a binary string, with the same
 * undo journal and checkpoint semantics as assembly/kv.ts.
 * @module
 */
import { assert } from "../util/index.ts";
import { checkCanCheckpoint, checkKey, checkOpenCheckpoint, checkValue } from "./kv-check.ts";
import type { KvStore } from "./kv-types.ts";

/** Binary string of `bytes` (one char per byte): a Map key that compares by content. */
export function binaryKey(bytes: Uint8Array): string {
  // One call for the whole key (keys are at most 1024 bytes, well within argument limits).
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

function keyBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The Map-backed store. */
export class TsKvStore implements KvStore {
  readonly engine = "ts" as const;
  private readonly map = new Map<string, Uint8Array>();
  /** Undo records: [key, previous value or undefined], newest last. */
  private readonly journal: Array<[string, Uint8Array | undefined]> = [];
  private readonly marks: number[] = [];
  private version = 0;

  get size(): number {
    return this.map.size;
  }

  get depth(): number {
    return this.marks.length;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(binaryKey(checkKey(key)))?.slice();
  }

  has(key: Uint8Array): boolean {
    return this.map.has(binaryKey(checkKey(key)));
  }

  put(key: Uint8Array, value: Uint8Array): void {
    const k = binaryKey(checkKey(key));
    const v = new Uint8Array(checkValue(value)); // a copy for any view (a Buffer's slice would alias)
    this.remember(k);
    this.map.set(k, v);
  }

  delete(key: Uint8Array): boolean {
    const k = binaryKey(checkKey(key));
    if (!this.map.has(k)) return false;
    this.remember(k);
    return this.map.delete(k);
  }

  clear(): void {
    if (this.marks.length > 0) for (const k of this.map.keys()) this.remember(k);
    this.map.clear();
    this.version++;
  }

  *entries(): IterableIterator<[Uint8Array, Uint8Array]> {
    const version = this.version;
    for (const [k, v] of this.map) {
      assert(version === this.version, "store changed during iteration");
      yield [keyBytes(k), v.slice()];
    }
  }

  checkpoint(): number {
    checkCanCheckpoint(this.marks.length);
    this.marks.push(this.journal.length);
    return this.marks.length;
  }

  rollback(): void {
    checkOpenCheckpoint(this.marks.length, "rollback");
    const mark = this.marks.pop()!;
    while (this.journal.length > mark) {
      const [k, old] = this.journal.pop()!;
      if (old === undefined) this.map.delete(k);
      else this.map.set(k, old);
    }
    this.version++;
  }

  release(): void {
    checkOpenCheckpoint(this.marks.length, "release");
    this.marks.pop();
    if (this.marks.length === 0) this.journal.length = 0;
  }

  private remember(k: string): void {
    this.version++;
    if (this.marks.length > 0) this.journal.push([k, this.map.get(k)]);
  }
}
