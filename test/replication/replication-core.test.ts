import { describe, expect, it } from "vitest";
import { Random } from "../../bindings/net/index.ts";
import {
  ReplicaCore,
  resolveConfig,
  type Entry,
  type ReplicaEffect,
  type ReplicationMode,
} from "../../bindings/replication/index.ts";

const NODES = ["a", "b", "c"];
const entry = (epoch: number): Entry => ({
  epoch,
  proposer: new Uint8Array(32),
  transfers: new Uint8Array(0),
});
const core = (
  self: string,
  mode: ReplicationMode = "sync",
  meta = { epoch: 0, votedFor: "", commit: 0 },
  entries: Entry[] = [],
) =>
  new ReplicaCore(
    self,
    new Uint8Array(32).fill(1),
    resolveConfig({ nodes: NODES, mode }),
    { meta, entries, applied: 0 },
    new Random(1),
    () => 0,
  );
const kinds = (effects: ReplicaEffect[]) =>
  effects.map((e) => (e.kind === "send" ? `send:${e.message.t}` : e.kind));

describe("replication core: effects in a safe order", () => {
  it("a secondary makes appended blocks durable before it acknowledges them", () => {
    const b = core("b");
    b.handle({ kind: "start" });
    const out = b.handle({
      kind: "message",
      from: "a",
      message: {
        t: "append",
        epoch: 1,
        prevHeight: 0,
        prevEpoch: 0,
        entries: [entry(1), entry(1)],
        commit: 0,
      },
    });
    const k = kinds(out);
    const write = out.findIndex((e) => e.kind === "persist" && e.append !== undefined);
    expect(write).toBeGreaterThanOrEqual(0);
    expect(write).toBeLessThan(k.indexOf("send:appendReply"));
    expect(out[write]).toMatchObject({ meta: { epoch: 1 }, append: { from: 1 } });
    expect(out.find((e) => e.kind === "send")).toMatchObject({ to: "a", message: { ok: true, height: 2 } });
  });

  it("a vote is durable before it is granted, and only one per epoch", () => {
    const c = core("c");
    c.handle({ kind: "start" });
    const first = c.handle({
      kind: "message",
      from: "a",
      message: { t: "vote", epoch: 3, lastHeight: 0, lastEpoch: 0 },
    });
    const k = kinds(first);
    expect(k.lastIndexOf("persist")).toBeLessThan(k.indexOf("send:voteReply"));
    expect(first.filter((e) => e.kind === "persist").at(-1)).toMatchObject({
      meta: { epoch: 3, votedFor: "a" },
    });
    expect(first.find((e) => e.kind === "send")).toMatchObject({ message: { granted: true } });
    const second = c.handle({
      kind: "message",
      from: "b",
      message: { t: "vote", epoch: 3, lastHeight: 5, lastEpoch: 2 },
    });
    expect(second.find((e) => e.kind === "send")).toMatchObject({ to: "b", message: { granted: false } });
  });

  it("refuses a candidate whose log is behind, and fences messages of an older epoch", () => {
    const b = core("b", "sync", { epoch: 2, votedFor: "", commit: 0 }, [entry(1), entry(2)]);
    b.handle({ kind: "start" });
    const behind = b.handle({
      kind: "message",
      from: "a",
      message: { t: "vote", epoch: 3, lastHeight: 5, lastEpoch: 1 },
    });
    expect(behind.find((e) => e.kind === "send")).toMatchObject({ message: { granted: false, epoch: 3 } });
    const stale = b.handle({
      kind: "message",
      from: "c",
      message: { t: "append", epoch: 2, prevHeight: 2, prevEpoch: 2, entries: [entry(2)], commit: 2 },
    });
    expect(stale).toEqual([
      { kind: "send", to: "c", message: { t: "appendReply", epoch: 3, ok: false, height: 2 } },
    ]);
    expect(b.lastHeight).toBe(2);
  });

  it("a primary acknowledges a sync write only after a backup has it durable; async right after its own write", () => {
    for (const mode of ["sync", "async"] as const) {
      const a = core("a", mode);
      a.handle({ kind: "start" });
      a.handle({ kind: "timer", name: "election" });
      a.handle({ kind: "message", from: "b", message: { t: "voteReply", epoch: 1, granted: true } });
      expect(a.role).toBe("primary");
      a.handle({ kind: "submit", requestId: 7, transfer: new Uint8Array(157) });
      const cut = a.handle({ kind: "timer", name: "block" });
      const k = kinds(cut);
      expect(k.indexOf("persist")).toBeLessThan(k.indexOf("send:append"));
      if (mode === "async") {
        expect(k.indexOf("persist")).toBeLessThan(k.indexOf("ack"));
        continue;
      }
      expect(k).not.toContain("ack");
      const acked = a.handle({
        kind: "message",
        from: "b",
        message: { t: "appendReply", epoch: 1, ok: true, height: 2 },
      });
      expect(kinds(acked)).toEqual(["committed", "apply", "apply", "ack"]);
      expect(acked.at(-1)).toMatchObject({ requestIds: [7], height: 2, epoch: 1 });
    }
  });

  it("two primaries in one epoch is a broken invariant, not an input", () => {
    const a = core("a");
    a.handle({ kind: "start" });
    a.handle({ kind: "timer", name: "election" });
    a.handle({ kind: "message", from: "b", message: { t: "voteReply", epoch: 1, granted: true } });
    expect(() =>
      a.handle({
        kind: "message",
        from: "c",
        message: { t: "append", epoch: 1, prevHeight: 0, prevEpoch: 0, entries: [], commit: 0 },
      }),
    ).toThrow(/two primaries/);
  });
});
