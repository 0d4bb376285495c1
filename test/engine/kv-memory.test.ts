/**
 * Memory growth: a wasm store filled past several hundred MiB keeps working, because its binding
 * re-creates its views when growth detaches the old ArrayBuffer.
 */
import { describe, expect, it } from "vitest";
import { createKvStore } from "../../bindings/engine/index.ts";

function valueFor(i: number, len: number): Uint8Array {
  // A distinct word pattern per key (native fill keeps the test fast); the first word is the index.
  const words = new Uint32Array(len / 4).fill(Math.imul(i + 1, 2654435761) >>> 0);
  words[0] = i;
  return new Uint8Array(words.buffer);
}

describe("wasm store survives memory growth", () => {
  it("grows past 400 MiB with 64 KiB values; old and new entries read back exactly", async () => {
    const store = await createKvStore("wasm");
    const memoryBytes = () => (store as unknown as { memoryBytes: number }).memoryBytes;
    const key = (i: number) => new TextEncoder().encode(`big-${i}`);
    const first = valueFor(0, 65536);
    store.put(key(0), first);
    const before = store.get(key(0))!;
    const startBytes = memoryBytes();
    let i = 1;
    // Bounded: 80 KiB per entry reaches 400 MiB after about 5,200 entries.
    while (memoryBytes() < 400 * 2 ** 20 && i < 10_000) {
      store.put(key(i), valueFor(i, 65536));
      if (i % 500 === 0) expect(store.get(key(i - 250))).toEqual(valueFor(i - 250, 65536));
      i++;
    }
    expect(memoryBytes()).toBeGreaterThanOrEqual(400 * 2 ** 20);
    expect(memoryBytes()).toBeGreaterThan(startBytes * 10);
    expect(before).toEqual(first); // a copy taken before growth is intact
    expect(store.size).toBe(i);
    for (const j of [0, 1, 2, Math.floor(i / 2), i - 2, i - 1])
      expect(store.get(key(j))).toEqual(valueFor(j, 65536));
    // checkpoint + rollback of a change that itself grows memory
    store.checkpoint();
    for (let j = 0; j < 200; j++) store.put(key(j), new Uint8Array(3));
    for (let j = i; j < i + 300; j++) store.put(key(j), valueFor(j, 65536));
    store.rollback();
    expect(store.size).toBe(i);
    for (const j of [0, 199, 200, i - 1]) expect(store.get(key(j))).toEqual(valueFor(j, 65536));
    expect(store.has(key(i))).toBe(false);
  }, 180_000); // moves about 800 MiB through the binding: slow on a loaded 2-core machine
});
