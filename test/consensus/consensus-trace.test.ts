// Traced simulations: the consensus run's Tendermint steps and its checker violation reach the
// trace (with the validators and height it concerns), tracing leaves the run unchanged, and the
// replication and 2PC runs label their messages and name their violation.
import { describe, expect, it } from "vitest";
import { simulateConsensus } from "../../bindings/consensus/index.ts";
import { TraceRecorder, renderTraceHtml } from "../../bindings/net/index.ts";
import { simulatePrimary } from "../../bindings/replication/index.ts";
import { simulateTwoPc } from "../../bindings/txn/index.ts";

describe("traced consensus simulation", () => {
  it("records each height's propose, prevote, precommit and commit, and changes nothing", async () => {
    const recorder = new TraceRecorder();
    const traced = await simulateConsensus({ seed: 1, validators: 4, byzantine: 1, trace: recorder });
    expect(traced).toEqual(await simulateConsensus({ seed: 1, validators: 4, byzantine: 1 }));
    const t = recorder.finish("seed 1");
    expect(t.nodes).toEqual(["n0", "n1", "n2", "n3"]);
    expect(t.messages.length).toBe(traced.messages + t.messages.filter((m) => m.duplicate).length);
    expect(t.faults.filter((f) => f.kind === "crash" || f.kind === "partition").length).toBe(
      traced.crashes + traced.partitions,
    );
    for (const step of ["propose", "prevote", "precommit", "commit"])
      expect(t.steps.some((s) => s.step === step && s.height === 1)).toBe(true);
    const commits = t.steps.filter((s) => s.step === "commit");
    expect(Math.max(...commits.map((s) => s.height!))).toBeGreaterThanOrEqual(traced.minHeight);
    expect(t.messages.some((m) => /^prevote h1 r0 ([0-9a-f]{6}|nil) by n\d$/.test(m.label))).toBe(true);
    expect(t.violations).toEqual([]);
  });

  it("records a seeded checker violation with the validators and height it concerns", async () => {
    // Checker self-test: the byzantine validator counted as correct (seed 4: n3 double-votes).
    const recorder = new TraceRecorder();
    const r = await simulateConsensus({
      seed: 4,
      validators: 4,
      byzantine: 1,
      mislabelByzantine: true,
      trace: recorder,
    });
    expect(r.ok).toBe(false);
    const [v] = recorder.finish("seed 4").violations;
    expect(v!.invariant).toBe(r.violation!.invariant);
    expect(v!.detail).toBe(r.violation!.detail);
    expect(v!.nodes).toEqual(["n1", "n3"]);
    expect(v!.height).toBe(3);
    const evidence = recorder.trace.steps.find((s) => s.step === "evidence" && s.node === "n1");
    expect(evidence?.height).toBe(3);
    const html = renderTraceHtml(recorder.trace);
    expect(html).toContain("violated: accusation");
    expect([...html.matchAll(/class="msg [a-z-]+ offending"/g)].length).toBeGreaterThan(0);
  });
});

describe("traced replication and 2PC simulations", () => {
  it("replication labels its messages and records the primary's commits", async () => {
    const recorder = new TraceRecorder();
    const r = await simulatePrimary({ seed: 3, trace: recorder });
    expect(r.violation).toBeUndefined();
    expect(recorder.trace.messages.some((m) => m.label.startsWith("append e"))).toBe(true);
    expect(recorder.trace.steps.filter((s) => s.step === "commit").length).toBeGreaterThan(0);
  });

  it("2PC records a broken protocol's violation and labels messages by transaction", async () => {
    const recorder = new TraceRecorder();
    const r = await simulateTwoPc({ seed: 9, bug: "no-locks", trace: recorder });
    expect(r.violation?.invariant).toMatch(/^conservation/);
    expect(recorder.trace.violations.map((v) => v.invariant)).toEqual([r.violation!.invariant]);
    expect(
      recorder.trace.messages.some((m) => /^prepare \S+$/.test(m.label) && m.subject !== undefined),
    ).toBe(true);
    expect(recorder.trace.steps.some((s) => s.step === "prepare" && s.node === "c")).toBe(true);
  });
});
