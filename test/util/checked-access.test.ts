/**
 * `at(items, index)`, the checked read that noUncheckedIndexedAccess asks for: the element for an
 * index in range (even when the element itself is undefined), a loud internal error otherwise.
 */
import { describe, expect, it } from "vitest";
import { at } from "../../bindings/util/index.ts";

describe("at", () => {
  it("reads an index in range of arrays and typed arrays", () => {
    expect(at(["a", "b", "c"], 2)).toBe("c");
    expect(at(new Uint8Array([7, 8]), 0)).toBe(7);
    expect(at([undefined, 1], 0)).toBeUndefined();
  });

  it("crashes on an index outside [0, length) or not an integer", () => {
    for (const index of [-1, 3, 1.5, Number.NaN]) {
      expect(() => at([1, 2, 3], index)).toThrow(`chaindb internal error: index ${index} outside [0, 3)`);
    }
    expect(() => at(new Uint8Array(0), 0)).toThrow("outside [0, 0)");
  });
});
