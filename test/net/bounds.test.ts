// TcpTransport's bounds against a hostile peer over loopback: unauthenticated connections are
// limited and timed out (on an injected clock), a flooding peer's socket is paused while its inbox
// is full, and a peer over its budget loses messages and then its connection. PeerBudget's
// arithmetic is checked on its own with a virtual clock.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ChainDbError, ErrorCode } from "../../bindings/util/index.ts";
import {
  BudgetVerdict,
  CONNECT_RATE_ADDRESSES_MAX,
  ConnectRate,
  PeerBudget,
  TcpTransport,
  budgetLimits,
  nodeKeyFromSeed,
  type Clock,
  type NodeKey,
  type TcpPeer,
  type TcpTransportOptions,
} from "../../bindings/net/index.ts";
import { EventLog, Waitable } from "../helpers/net-events.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const keys: Record<string, NodeKey> = Object.fromEntries(
  ["a", "b"].map((id, i) => [id, nodeKeyFromSeed(new Uint8Array(32).fill(i + 1))]),
);
const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Virtual time: timers fire only when the test advances the clock. */
class ManualClock implements Clock {
  private t = 0;
  private timers: { at: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  setTimer(delayMs: number, fn: () => void): () => void {
    const timer = { at: this.t + delayMs, fn };
    this.timers.push(timer);
    return () => void (this.timers = this.timers.filter((x) => x !== timer));
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const x of due) x.fn();
  }
  get armed(): number {
    return this.timers.length;
  }
}

async function start(
  id: string,
  peers: TcpPeer[],
  extra: Partial<TcpTransportOptions> = {},
): Promise<TcpTransport> {
  const t = await TcpTransport.start({
    id,
    key: keys[id]!,
    listen: { host: "127.0.0.1", port: 0 },
    peers,
    reconnectMinMs: 10,
    reconnectMaxMs: 100,
    ...extra,
  });
  cleanup.push(() => t.close());
  return t;
}

async function pair(extraB: Partial<TcpTransportOptions>) {
  const b = await start("b", [{ id: "a", publicKey: keys.a!.publicKey }], extraB);
  const logB = new EventLog(b);
  const a = await start(
    "a",
    [{ id: "b", publicKey: keys.b!.publicKey, host: "127.0.0.1", port: b.address!.port }],
    { reconnectMinMs: 60_000 },
  );
  const logA = new EventLog(a);
  await logA.wait((e) => e.kind === "up");
  await logB.wait((e) => e.kind === "up");
  return { a, b, logA, logB };
}

/** A raw connection; `closed` resolves when the server closes it. */
function idle(port: number): { socket: Socket; closed: Promise<void> } {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.on("data", () => {}); // the server's hello
  cleanup.push(() => void socket.destroy());
  return { socket, closed: new Promise((resolve) => socket.on("close", () => resolve())) };
}

describe("connections that have not finished the handshake", () => {
  it("at most handshakesPendingMax are held; the rest are closed at accept, and the held ones at the deadline", async () => {
    const clock = new ManualClock();
    const errors = new Waitable<Error>();
    const b = await start("b", [{ id: "a", publicKey: keys.a!.publicKey }], {
      clock,
      handshakesPendingMax: 4,
      handshakeTimeoutMs: 1000,
      onConnectionError: (e) => errors.push(e),
    });
    const conns = Array.from({ length: 10 }, () => idle(b.address!.port));
    await errors.count((e) => (e as ChainDbError).code === ErrorCode.BUSY, 6);
    expect(b.stats.refusedPending).toBe(6);
    expect(b.handshakesPending).toBe(4);
    expect(clock.armed).toBe(4);
    clock.advance(999);
    expect(b.handshakesPending).toBe(4); // not yet
    clock.advance(1);
    await errors.count(
      (e) => (e as ChainDbError).code === ErrorCode.HANDSHAKE_FAILED && /timed out/.test(e.message),
      4,
    );
    await Promise.all(conns.map((c) => c.closed));
    expect(b.handshakesPending).toBe(0);
    // the slots are free again: a real peer gets in
    const logB = new EventLog(b);
    const a = await start("a", [
      { id: "b", publicKey: keys.b!.publicKey, host: "127.0.0.1", port: b.address!.port },
    ]);
    await logB.wait((e) => e.kind === "up" && e.peer === "a");
    expect(a.isConnected("b")).toBe(true);
    expect(clock.armed).toBe(0); // the completed handshake cancelled its deadline
  });

  it("a truncated handshake holds its slot only until the deadline", async () => {
    const clock = new ManualClock();
    const errors = new Waitable<Error>();
    const b = await start("b", [{ id: "a", publicKey: keys.a!.publicKey }], {
      clock,
      handshakesPendingMax: 1,
      onConnectionError: (e) => errors.push(e),
    });
    const c = idle(b.address!.port);
    c.socket.write(new Uint8Array([0, 0, 0, 33, 1, 2, 3])); // half a hello
    const second = idle(b.address!.port);
    await second.closed; // refused: the one slot is taken
    clock.advance(3000); // the default deadline
    await c.closed;
    expect(errors.items.map((e) => (e as ChainDbError).code)).toEqual([
      ErrorCode.BUSY,
      ErrorCode.HANDSHAKE_FAILED,
    ]);
  });
});

describe("connect rate per remote address", () => {
  it("closes connections over connectsPerSecond at accept, before any handshake work", async () => {
    const clock = new ManualClock();
    const errors = new Waitable<Error>();
    const b = await start("b", [{ id: "a", publicKey: keys.a!.publicKey }], {
      clock,
      connectsPerSecond: 3,
      handshakeTimeoutMs: 1000,
      onConnectionError: (e) => errors.push(e),
    });
    const first = Array.from({ length: 5 }, () => idle(b.address!.port));
    await errors.count((e) => /connects too often/.test(e.message), 2);
    expect(b.stats.refusedRate).toBe(2);
    expect(b.handshakesPending).toBe(3);
    expect(clock.armed).toBe(3); // only the admitted ones got a handshake deadline
    clock.advance(1000); // the bucket refills (and the three idle ones time out)
    await Promise.all(first.map((c) => c.closed));
    const logB = new EventLog(b);
    const a = await start("a", [
      { id: "b", publicKey: keys.b!.publicKey, host: "127.0.0.1", port: b.address!.port },
    ]);
    await logB.wait((e) => e.kind === "up" && e.peer === "a");
    expect(a.isConnected("b")).toBe(true);
  });

  it("refills at the configured rate and tracks a bounded number of addresses", () => {
    const rate = new ConnectRate(2);
    expect([rate.allow("x", 0), rate.allow("x", 0), rate.allow("x", 0)]).toEqual([true, true, false]);
    expect(rate.allow("y", 0)).toBe(true); // another address has its own bucket
    expect(rate.allow("x", 400)).toBe(false); // 0.8 of a token
    expect(rate.allow("x", 500)).toBe(true);
    for (let i = 0; i < CONNECT_RATE_ADDRESSES_MAX + 10; i++) rate.allow(`10.0.${i >> 8}.${i & 255}`, 600);
    expect(rate.size).toBe(CONNECT_RATE_ADDRESSES_MAX);
  });
});

describe("back-pressure", () => {
  it("pauses a flooding peer's socket while its inbox is full, and delivers every message in order", async () => {
    const { a, b, logB } = await pair({ inboxMaxMessages: 20 });
    const n = 3000;
    for (let i = 0; i < n; i++) expect(a.send("b", enc(`m${i}`))).toBe(true);
    await logB.count((e) => e.kind === "msg", n, 20_000);
    const texts = logB.events.filter((e) => e.kind === "msg").map((e) => (e as { text: string }).text);
    expect(texts).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    expect(b.stats.pauses).toBeGreaterThan(0);
    expect(b.stats.inboxPeakMessages).toBeLessThanOrEqual(20);
  });

  it("bounds waiting bytes too: large messages pause the socket at inboxMaxBytes", async () => {
    const { a, b, logB } = await pair({ inboxMaxBytes: 256 * 1024 });
    const big = new Uint8Array(100_000).fill(42);
    for (let i = 0; i < 40; i++) expect(a.send("b", big)).toBe(true);
    await logB.count((e) => e.kind === "msg", 40, 20_000);
    expect(b.stats.framesReceived).toBe(40);
    // Pauses happen only if more than 2 messages queued up between deliveries; either way at most 3 wait.
    expect(b.stats.inboxPeakMessages).toBeLessThanOrEqual(3);
  });
});

describe("per-peer budget", () => {
  it("drops a flooding peer's messages over its budget, then disconnects it", async () => {
    const clock = new ManualClock(); // frozen: no refill during the test
    const errors = new Waitable<Error>();
    const { a, b, logB } = await pair({
      clock,
      budget: { messagesPerSecond: 100, dropsBeforeDisconnect: 50 },
      onConnectionError: (e) => errors.push(e),
    });
    for (let i = 0; i < 400; i++) a.send("b", enc(`m${i}`));
    const error = await errors.wait((e) => e instanceof ChainDbError);
    expect((error as ChainDbError).code).toBe(ErrorCode.BUSY);
    await logB.wait((e) => e.kind === "down" && e.peer === "a");
    expect(b.stats.droppedBudget).toBe(51);
    expect(b.stats.disconnectedBudget).toBe(1);
    const got = logB.events.filter((e) => e.kind === "msg").map((e) => (e as { text: string }).text);
    // within budget: only the first 100 can be delivered (some may be lost with the link)
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => `m${i}`));
    expect(got.length).toBeLessThanOrEqual(100);
  });

  it("PeerBudget refills with time, caps a burst at one second, and disconnects only past the drop limit", () => {
    const limits = budgetLimits({ messagesPerSecond: 10, bytesPerSecond: 1000, dropsBeforeDisconnect: 3 });
    const budget = new PeerBudget(limits, 100, 0);
    const verdicts = Array.from({ length: 10 }, () => budget.charge(10, 0));
    expect(verdicts.every((v) => v === BudgetVerdict.Accept)).toBe(true);
    expect(budget.charge(10, 0)).toBe(BudgetVerdict.Drop);
    expect(budget.charge(10, 100)).toBe(BudgetVerdict.Accept); // 100 ms refilled one message
    expect(budget.charge(10, 100)).toBe(BudgetVerdict.Drop);
    expect(budget.charge(10, 100)).toBe(BudgetVerdict.Drop);
    expect(budget.charge(10, 100)).toBe(BudgetVerdict.Disconnect); // 4th drop within a second
    // bytes: a fresh budget; 1000 bytes/s, one 100-byte frame always fits a full bucket
    const bytes = new PeerBudget(limits, 100, 0);
    for (let i = 0; i < 10; i++) expect(bytes.charge(100, 0)).toBe(BudgetVerdict.Accept);
    expect(bytes.charge(1, 0)).toBe(BudgetVerdict.Drop);
    // a long silence refills only one second's worth
    expect(
      Array.from({ length: 11 }, () => bytes.charge(1, 60_000)).filter((v) => v === BudgetVerdict.Accept)
        .length,
    ).toBe(10);
    expect(() => budgetLimits({ messagesPerSecond: 0 })).toThrow(ChainDbError);
  });
});
