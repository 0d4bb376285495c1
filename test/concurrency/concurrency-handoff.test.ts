import { describe, expect, it } from "vitest";
import { HandoffProbe, type HandoffKind } from "../../bindings/concurrency/index.ts";

describe("HandoffProbe (the ping-pong behind the concurrency benchmark)", () => {
  for (const kind of ["futex", "event", "mutex-condvar"] as HandoffKind[]) {
    it(`${kind}: every ping is answered exactly once, and the worker stops on close`, async () => {
      const probe = await HandoffProbe.start(kind);
      expect(probe.roundTrips(500)).toBe(500);
      expect(probe.roundTrips(250)).toBe(250);
      expect(await probe.close()).toBe(750);
    });
  }

  it("mutex-contended: the worker competes only while the caller runs, and stops on close", async () => {
    const probe = await HandoffProbe.start("mutex-contended");
    expect(probe.roundTrips(20_000)).toBe(20_000);
    const workerPairs = await probe.close();
    expect(Number.isInteger(workerPairs) && workerPairs >= 0).toBe(true);
  });
});
