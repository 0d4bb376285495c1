// The simulation trace: the recorder fed by SimNetwork (every send, delivery, loss, drop and fault,
// without changing the run), and the HTML renderer (a lane per node, an arrow per delivered
// message, shaded faults, a highlighted violation, a bounded drawing).
import { describe, expect, it } from "vitest";
import {
  SimNetwork,
  TraceRecorder,
  renderTraceHtml,
  violationSubjects,
  type Trace,
} from "../../bindings/net/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";

function count(html: string, pattern: RegExp): number {
  return [...html.matchAll(pattern)].length;
}

function handTrace(): Trace {
  return {
    title: "hand <made> & trace",
    replay: "npx chaindb simulate consensus --seeds 1..1",
    nodes: ["n0", "n1", "n2"],
    messages: [
      {
        from: "n0",
        to: "n1",
        sentAt: 1,
        endAt: 5,
        label: "proposal h1 r0 aa by n0",
        height: 1,
        origin: "n0",
        fate: "delivered",
      },
      {
        from: "n0",
        to: "n2",
        sentAt: 1,
        endAt: 7,
        label: "proposal h1 r0 aa by n0",
        height: 1,
        origin: "n0",
        fate: "delivered",
      },
      {
        from: "n1",
        to: "n2",
        sentAt: 6,
        endAt: 9,
        label: "prevote h1 r0 aa by n1",
        height: 1,
        origin: "n1",
        fate: "delivered",
      },
      {
        from: "n2",
        to: "n0",
        sentAt: 10,
        label: "prevote h1 r0 bb by n2",
        height: 1,
        origin: "n2",
        fate: "lost",
      },
      {
        from: "n2",
        to: "n1",
        sentAt: 11,
        endAt: 15,
        label: "prevote h1 r0 bb by n2",
        height: 1,
        origin: "n2",
        fate: "dropped",
      },
      {
        from: "n1",
        to: "n0",
        sentAt: 12,
        label: "precommit h1 r0 aa by n1",
        height: 1,
        origin: "n1",
        fate: "dropped",
      },
    ],
    faults: [
      { kind: "partition", at: 8, groups: [["n0"], ["n1", "n2"]] },
      { kind: "crash", at: 9, node: "n2" },
      { kind: "heal", at: 20 },
      { kind: "restart", at: 25, node: "n2" },
    ],
    steps: [
      { at: 1, node: "n0", step: "propose", height: 1, round: 0 },
      { at: 6, node: "n1", step: "prevote", height: 1, round: 0 },
      { at: 10, node: "n2", step: "prevote", height: 1, round: 0 },
      { at: 28, node: "n1", step: "commit", height: 1, round: 0 },
    ],
    violations: [
      {
        at: 30,
        invariant: "evidence",
        detail: "n1 received an equivocation (n2/1/0/1) but holds no evidence <for it>",
        nodes: ["n1", "n2"],
        height: 1,
      },
    ],
    messagesUnrecorded: 0,
    endAt: 30,
  };
}

describe("renderTraceHtml", () => {
  const html = renderTraceHtml(handTrace());

  it("draws a lane per node and an arrow per delivered message", () => {
    expect(count(html, /<g class="lane" data-node="/g)).toBe(3);
    expect(count(html, /<g class="msg delivered[ "]/g)).toBe(3);
    expect(count(html, /marker-end="url\(#arrow\)"/g)).toBe(3);
    // Lost and dropped messages are drawn apart, dashed, each with a cross.
    expect(count(html, /<g class="msg lost[ "]/g)).toBe(1);
    expect(count(html, /<g class="msg dropped[ "]/g)).toBe(2);
  });

  it("shades the crash until the restart and each partition side until the heal", () => {
    expect(count(html, /<rect class="fault crash" data-node="n2"/g)).toBe(1);
    expect(count(html, /<rect class="fault partition side-0" data-node="n0"/g)).toBe(1);
    expect(count(html, /<rect class="fault partition side-1" data-node="n[12]"/g)).toBe(2);
    expect(html).toContain("n2 crashed at 9 ms, restarted at 25 ms");
    expect(html).toContain("partition 8 ms–20 ms: {n0} | {n1, n2}");
  });

  it("marks the steps and a band per height", () => {
    expect(count(html, /<g class="step step-/g)).toBe(4);
    expect(count(html, /<g class="height" data-height="1">/g)).toBe(1);
    expect(html).toContain("height 1: first step 1 ms, first commit 28 ms");
  });

  it("highlights the violation and exactly the events it names (its nodes, its height)", () => {
    expect(count(html, /<g class="violation">/g)).toBe(1);
    // n1's and n2's height-1 messages (by origin) and steps; n0's proposal is not named.
    expect(count(html, /<g class="msg [a-z-]+ offending">/g)).toBe(4);
    expect(count(html, /<g class="step step-[a-z]+ offending"/g)).toBe(3);
    expect(html).toContain("violated: evidence");
    expect(html).toContain("holds no evidence &#60;for it&#62;");
  });

  it("is self-contained and escapes every text", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=|<link |@import|url\(http/);
    expect(html).toContain("<title>hand &#60;made&#62; &#38; trace</title>");
    expect(html).not.toContain("<made>");
  });

  it("with no violation says so and highlights nothing", () => {
    const clean = renderTraceHtml({ ...handTrace(), violations: [] });
    expect(clean).toContain("no invariant violated");
    expect(clean).not.toContain("offending");
    expect(clean).not.toContain('<g class="violation">');
  });

  it("caps the drawn messages with a note, keeping the ones before a violation", () => {
    const t = handTrace();
    const many: Trace = {
      ...t,
      messages: Array.from({ length: 50 }, (_, i) => ({
        from: "n0",
        to: "n1",
        sentAt: i,
        endAt: i + 1,
        label: "ping",
        fate: "delivered" as const,
      })),
      violations: [{ ...t.violations[0]!, at: 40 }],
      endAt: 60,
    };
    const capped = renderTraceHtml(many, { messagesMax: 10 });
    expect(count(capped, /<g class="msg delivered/g)).toBe(10);
    expect(capped).toMatch(
      /class="note">showing 32 ms–41 ms of 60 ms \(10 of 50 messages; at most 10 are drawn\)/,
    );
    expect(count(capped, /<g class="violation">/g)).toBe(1);
    const windowed = renderTraceHtml(many, { fromMs: 0, toMs: 4.5 });
    expect(count(windowed, /<g class="msg delivered/g)).toBe(5);
    expect(windowed).not.toContain('class="note"');
  });

  it("refuses a bad window or bound with a ChainDbError", () => {
    expect(() => renderTraceHtml(handTrace(), { fromMs: 10, toMs: 5 })).toThrow(ChainDbError);
    expect(() => renderTraceHtml(handTrace(), { messagesMax: 0 })).toThrow(/messagesMax/);
  });
});

describe("TraceRecorder on SimNetwork", () => {
  async function run(trace?: TraceRecorder) {
    const net = new SimNetwork({
      seed: 5,
      link: { loss: 0.2, duplicate: 0.2 },
      settle: "microtask",
      ...(trace && { trace }),
    });
    const ids = ["a", "b", "c"];
    for (const id of ids) net.addNode(id).transport.setHandler({ onMessage: () => {} });
    const chatter = () => {
      for (const id of ids) if (net.node(id).up) net.node(id).transport.broadcast(new Uint8Array([1, 2, 3]));
      net.clock.setTimer(5, chatter);
    };
    chatter();
    net.clock.setTimer(40, () => net.partition([["a"]]));
    net.clock.setTimer(60, () => net.crash("c"));
    net.clock.setTimer(80, () => net.heal());
    net.clock.setTimer(90, () => void net.restart("c").transport.setHandler({ onMessage: () => {} }));
    net.clock.setTimer(95, () => net.node("a").transport.send("c", new Uint8Array(1))); // to a live node
    await net.runFor(120);
    return net;
  }

  it("records every message with its fate and every fault, on virtual time", async () => {
    const recorder = new TraceRecorder();
    const net = await run(recorder);
    const t = recorder.finish("sim");
    expect(t.nodes).toEqual(["a", "b", "c"]);
    const fates = (f: string) => t.messages.filter((m) => m.fate === f).length;
    expect(t.messages.length).toBe(net.stats.sent + net.stats.duplicated);
    expect(fates("delivered")).toBe(net.stats.delivered);
    expect(fates("lost")).toBe(net.stats.lost);
    expect(fates("dropped")).toBe(net.stats.droppedUnreachable);
    expect(t.messages.filter((m) => m.duplicate).length).toBe(net.stats.duplicated);
    expect(fates("lost")).toBeGreaterThan(0);
    expect(fates("dropped")).toBeGreaterThan(0);
    for (const m of t.messages) if (m.fate === "delivered") expect(m.endAt!).toBeGreaterThanOrEqual(m.sentAt);
    expect(t.faults).toEqual([
      { kind: "partition", at: 40, groups: [["a"], ["b", "c"]] },
      { kind: "crash", at: 60, node: "c" },
      { kind: "heal", at: 80 },
      { kind: "restart", at: 90, node: "c" },
    ]);
    expect(t.messages[0]!.label).toBe("3 B");
    expect(t.endAt).toBe(120);
  });

  it("leaves the run unchanged (same stats, same randomness) and bounds what it keeps", async () => {
    const plain = await run();
    const bounded = new TraceRecorder({ messagesMax: 7 });
    const traced = await run(bounded);
    expect(traced.stats).toEqual(plain.stats);
    expect(traced.random.u32()).toBe(plain.random.u32());
    expect(bounded.trace.messages).toHaveLength(7);
    expect(bounded.trace.messagesUnrecorded).toBe(plain.stats.sent + plain.stats.duplicated - 7);
  });
});

describe("violationSubjects", () => {
  it("finds the run's node ids as words and the height", () => {
    expect(
      violationSubjects("n1 committed 0a at height 12, another correct validator n10", ["n0", "n1", "n2"]),
    ).toEqual({ nodes: ["n1"], height: 12 });
    expect(violationSubjects(`equivocation ${"ab".repeat(32)}/7/0/1 signed`, ["n0"])).toEqual({
      nodes: [],
      height: 7,
    });
    expect(violationSubjects("total 817, expected 900", ["c", "p0"])).toEqual({ nodes: [] });
  });
});
