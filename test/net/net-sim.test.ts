import { describe, expect, it } from "vitest";
import { Random, SimNetwork, decodeMessage, encodeMessage, type NodeId } from "../../bindings/net/index.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Records what each node's transport reports. */
function record(net: SimNetwork, ids: NodeId[]) {
  const log: string[] = [];
  for (const id of ids) {
    net.node(id).transport.setHandler({
      onMessage: (from, p) => log.push(`${net.now.toFixed(3)} ${id}<-${from} ${dec(p)}`),
      onPeerUp: (p) => log.push(`${net.now.toFixed(3)} ${id} up ${p}`),
      onPeerDown: (p) => log.push(`${net.now.toFixed(3)} ${id} down ${p}`),
    });
  }
  return log;
}

async function trace(seed: number): Promise<string[]> {
  const net = new SimNetwork({
    seed,
    link: { loss: 0.1, duplicate: 0.1, reorder: 0.2 },
    settle: "microtask",
  });
  const ids = ["a", "b", "c"];
  ids.forEach((id) => net.addNode(id));
  const log = record(net, ids);
  for (let i = 0; i < 50; i++) net.node(ids[i % 3]!).transport.broadcast(enc(`m${i}`));
  await net.runFor(1000);
  return log;
}

describe("SimNetwork", () => {
  it("replays the same seed exactly and differs across seeds", async () => {
    const a = await trace(7);
    expect(await trace(7)).toEqual(a);
    expect(await trace(8)).not.toEqual(a);
    // with 10% loss and 10% duplication, some of the 100 messages are lost and some duplicated
    const delivered = a.filter((l) => l.includes("<-")).length;
    expect(delivered).toBeGreaterThan(60);
    expect(delivered).not.toBe(100);
  });

  it("delivers within the latency bounds, in order when fifo", async () => {
    const net = new SimNetwork({
      seed: 1,
      link: { latency: { kind: "uniform", minMs: 5, maxMs: 20 }, fifo: true },
      settle: "microtask",
    });
    net.addNode("a");
    net.addNode("b");
    const got: [number, string][] = [];
    net.node("b").transport.setHandler({ onMessage: (_f, p) => got.push([net.now, dec(p)]) });
    for (let i = 0; i < 100; i++) expect(net.node("a").transport.send("b", enc(String(i)))).toBe(true);
    await net.runFor(100);
    expect(got.map(([, m]) => m)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    for (const [t] of got) expect(t).toBeGreaterThanOrEqual(5);
    expect(got.at(-1)![0]).toBeLessThanOrEqual(20);
  });

  it("reorders without fifo", async () => {
    const net = new SimNetwork({ seed: 2, settle: "microtask" });
    net.addNode("a");
    net.addNode("b");
    const got: number[] = [];
    net.node("b").transport.setHandler({ onMessage: (_f, p) => got.push(Number(dec(p))) });
    for (let i = 0; i < 50; i++) net.node("a").transport.send("b", enc(String(i)));
    await net.runFor(100);
    expect([...got].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(got).not.toEqual([...got].sort((x, y) => x - y));
  });

  it("partitions split the nodes, report peers down and up, and drop messages in flight", async () => {
    const net = new SimNetwork({
      seed: 3,
      link: { latency: { kind: "fixed", ms: 10 } },
      settle: "microtask",
    });
    ["a", "b", "c", "d"].forEach((id) => net.addNode(id));
    const log = record(net, ["a", "b", "c", "d"]);
    await net.runFor(1);
    expect(net.node("a").transport.isConnected("c")).toBe(true);
    net.node("a").transport.send("c", enc("in-flight"));
    net.partition([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(net.node("a").transport.send("c", enc("x"))).toBe(false);
    expect(net.node("a").transport.send("b", enc("same side"))).toBe(true);
    await net.runFor(50);
    expect(log).toContain("1.000 a down c");
    expect(log).toContain("1.000 c down a");
    expect(log.some((l) => l.includes("in-flight"))).toBe(false);
    expect(log).toContain("11.000 b<-a same side");
    net.heal();
    await net.runFor(1);
    expect(log).toContain("51.000 a up c");
    expect(net.node("d").transport.broadcast(enc("hi"))).toBe(3);
  });

  it("crash loses unsynced writes and timers; restart keeps the synced disk and gets a new transport", async () => {
    const net = new SimNetwork({ seed: 4, settle: "microtask" });
    const a = net.addNode("a");
    net.addNode("b");
    const log = record(net, ["a", "b"]);
    a.storage.put("k1", enc("durable"));
    a.storage.sync();
    a.storage.put("k2", enc("lost"));
    let fired = 0;
    a.clock.setTimer(100, () => fired++);
    await net.runFor(10);
    net.crash("a");
    expect(net.node("b").transport.send("a", enc("to the dead"))).toBe(false);
    await net.runFor(200);
    expect(fired).toBe(0);
    expect(log).toContain("10.000 b down a");
    const a2 = net.restart("a");
    expect(a2.incarnation).toBe(2);
    expect(a2.storage.keys()).toEqual(["k1"]);
    expect(dec(a2.storage.get("k1")!)).toBe("durable");
    const got: string[] = [];
    a2.transport.setHandler({ onMessage: (_f, p) => got.push(dec(p)), onPeerUp: (p) => got.push(`up ${p}`) });
    await net.runFor(1);
    expect(got).toEqual(["up b"]);
    net.node("b").transport.send("a", enc("welcome back"));
    await net.runFor(20);
    expect(got).toEqual(["up b", "welcome back"]);
  });

  it("a minute of virtual timers runs in well under a second", async () => {
    const net = new SimNetwork({ seed: 5, settle: "microtask" });
    const n = net.addNode("a");
    let ticks = 0;
    const tick = () => {
      ticks++;
      n.clock.setTimer(10, tick);
    };
    tick();
    const t0 = performance.now();
    await net.runFor(60_000);
    expect(ticks).toBe(6001);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe("Random", () => {
  it("is a deterministic function of the seed with a sane spread", () => {
    const a = new Random(42);
    const b = new Random(42);
    const xs = Array.from({ length: 1000 }, () => a.int(0, 9));
    expect(Array.from({ length: 1000 }, () => b.int(0, 9))).toEqual(xs);
    for (let d = 0; d < 10; d++) expect(xs.filter((x) => x === d).length).toBeGreaterThan(60);
    expect(new Random(43).u32()).not.toBe(new Random(42).u32());
  });
});

describe("message codec", () => {
  it("round-trips bytes and bigints and rejects garbage", () => {
    const v = { t: "x", b: new Uint8Array([1, 2, 255]), n: 2n ** 70n, list: [1, "s", null] };
    expect(decodeMessage(encodeMessage(v))).toEqual(v);
    const buffer = Buffer.from([7, 8]); // a Node Buffer has a toJSON of its own
    expect(decodeMessage(encodeMessage({ buffer }))).toEqual({ buffer: new Uint8Array([7, 8]) });
    expect(() => decodeMessage(new Uint8Array([0xff, 0x00]))).toThrow(
      expect.objectContaining({ code: "BAD_MESSAGE" }),
    );
    expect(() => decodeMessage(enc("{not json"))).toThrow(expect.objectContaining({ code: "BAD_MESSAGE" }));
  });
});
