import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ChainDbError, ErrorCode } from "../../bindings/util/index.ts";
import {
  TcpTransport,
  nodeKeyFromSeed,
  type NodeKey,
  type TcpPeer,
  type TcpTransportOptions,
} from "../../bindings/net/index.ts";
import { EventLog, Waitable } from "../helpers/net-events.ts";

const waitCount = (log: EventLog, match: Parameters<EventLog["count"]>[0], n: number) => log.count(match, n);

const enc = (s: string) => new TextEncoder().encode(s);
const keys: Record<string, NodeKey> = Object.fromEntries(
  ["a", "b", "c", "x"].map((id, i) => [id, nodeKeyFromSeed(new Uint8Array(32).fill(i + 1))]),
);
const open: TcpTransport[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

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
  open.push(t);
  return t;
}
const peer = (id: string, t?: TcpTransport): TcpPeer => ({
  id,
  publicKey: keys[id]!.publicKey,
  ...(t ? { host: "127.0.0.1", port: t.address!.port } : {}),
});

/** b listens, a dials b (a < b). */
async function pair(extraA: Partial<TcpTransportOptions> = {}, extraB: Partial<TcpTransportOptions> = {}) {
  const b = await start("b", [peer("a")], extraB);
  const logB = new EventLog(b);
  const a = await start("a", [peer("b", b)], extraA);
  const logA = new EventLog(a);
  await logA.wait((e) => e.kind === "up" && e.peer === "b");
  await logB.wait((e) => e.kind === "up" && e.peer === "a");
  return { a, b, logA, logB };
}

/** A raw socket to `t` that sends `bytes`; resolves when the server closes it. */
function rawClosed(t: TcpTransport, bytes: Uint8Array, end = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect({ host: "127.0.0.1", port: t.address!.port }, () =>
      end ? s.end(bytes) : s.write(bytes),
    );
    const timer = setTimeout(
      () => (s.destroy(), reject(new Error("the server kept a bad connection open"))),
      5000,
    );
    s.on("data", () => {}); // the server's hello
    s.on("error", () => {});
    s.on("close", () => (clearTimeout(timer), resolve()));
  });
}

describe("TcpTransport on loopback", () => {
  it("authenticates three nodes and delivers sends and broadcasts in order", async () => {
    const c = await start("c", [peer("a"), peer("b")]);
    const b = await start("b", [peer("a"), peer("c", c)]);
    const a = await start("a", [peer("b", b), peer("c", c)]);
    const [la, lb, lc] = [new EventLog(a), new EventLog(b), new EventLog(c)];
    await waitCount(la, (e) => e.kind === "up", 2);
    await waitCount(lb, (e) => e.kind === "up", 2);
    await waitCount(lc, (e) => e.kind === "up", 2);
    for (let i = 0; i < 100; i++) expect(a.send("c", enc(`m${i}`))).toBe(true);
    expect(b.broadcast(enc("from b"))).toBe(2);
    await waitCount(lc, (e) => e.kind === "msg" && e.from === "a", 100);
    expect(
      lc.events.filter((e) => e.kind === "msg" && e.from === "a").map((e) => (e as { text: string }).text),
    ).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    await la.wait((e) => e.kind === "msg" && e.text === "from b");
    await lc.wait((e) => e.kind === "msg" && e.text === "from b");
    expect(a.send("nobody", enc("x"))).toBe(false);
  });

  it("refuses a peer presenting the wrong key and a node id it does not know", async () => {
    const errorsB = new Waitable<Error>();
    // b believes a's key is x's key
    const b = await start("b", [{ id: "a", publicKey: keys.x!.publicKey }], {
      onConnectionError: (e) => errorsB.push(e),
    });
    const logB = new EventLog(b);
    const a = await start("a", [peer("b", b)]);
    const logA = new EventLog(a);
    await errorsB.wait((e) => e instanceof ChainDbError && e.code === ErrorCode.HANDSHAKE_FAILED);
    // "aa" (dials b since "aa" < "b") is not in b's configuration at all
    const aa = await TcpTransport.start({
      id: "aa",
      key: keys.x!,
      peers: [peer("b", b)],
      reconnectMinMs: 10,
    });
    open.push(aa);
    await errorsB.wait((e) => e instanceof ChainDbError && e.code === ErrorCode.PEER_UNKNOWN);
    expect(b.stats.handshakesFailed).toBeGreaterThanOrEqual(2);
    expect(logA.events.some((e) => e.kind === "up")).toBe(false);
    expect(logB.events.some((e) => e.kind === "up")).toBe(false);
    expect(aa.isConnected("b")).toBe(false);
  });

  it("closes only the connection that sends an oversized, garbage or truncated frame", async () => {
    const errors = new Waitable<Error>();
    const { a, b, logB } = await pair({}, { frameMax: 1024, onConnectionError: (e) => errors.push(e) });
    const oversized = new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1]);
    await rawClosed(b, oversized);
    await errors.wait((e) => (e as ChainDbError).code === ErrorCode.FRAME_TOO_LARGE);
    await rawClosed(b, new Uint8Array([0, 0, 0, 5, 9, 9, 9, 9, 9])); // a malformed hello
    await errors.wait((e) => (e as ChainDbError).code === ErrorCode.HANDSHAKE_FAILED);
    await rawClosed(b, new Uint8Array([0, 0, 0, 0])); // empty frame
    await rawClosed(b, new Uint8Array([0, 0, 0, 50, 1, 2, 3]), true); // truncated, then the stream ends
    // a big frame even within frameMax is refused before the handshake
    await rawClosed(b, new Uint8Array([0, 0, 2, 0, 1]));
    expect(a.send("b", enc("still here"))).toBe(true);
    await logB.wait((e) => e.kind === "msg" && e.text === "still here");
    expect(logB.events.some((e) => e.kind === "down")).toBe(false);
    // an authenticated peer that sends a frame over the limit loses its connection, and redials
    expect(() => a.send("b", new Uint8Array(5000))).not.toThrow();
    await logB.wait((e) => e.kind === "down" && e.peer === "a");
    await waitCount(logB, (e) => e.kind === "up" && e.peer === "a", 2);
  });

  it("redials with backoff after the peer restarts, and the new connection carries messages", async () => {
    const { a, b, logA } = await pair();
    const port = b.address!.port;
    await b.close();
    open.splice(open.indexOf(b), 1);
    await logA.wait((e) => e.kind === "down" && e.peer === "b");
    expect(a.send("b", enc("lost"))).toBe(false);
    const b2 = await start("b", [peer("a")], { listen: { host: "127.0.0.1", port } });
    const logB2 = new EventLog(b2);
    await waitCount(logA, (e) => e.kind === "up" && e.peer === "b", 2);
    expect(a.send("b", enc("again"))).toBe(true);
    await logB2.wait((e) => e.kind === "msg" && e.text === "again");
  });

  it("refuses sends beyond the send queue bound instead of buffering without limit", async () => {
    const { a, logB } = await pair({ sendQueueMaxBytes: 256 * 1024 });
    const big = new Uint8Array(64 * 1024);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 200; i++) a.send("b", big) ? accepted++ : refused++;
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
    expect(a.stats.refusedBackpressure).toBe(refused);
    await logB.count((e) => e.kind === "msg", accepted);
    await a.writable("b");
    expect(a.send("b", big)).toBe(true);
  });

  it("shuts down cleanly: close resolves, peers see the node go, later sends are refused", async () => {
    const { a, b, logB } = await pair();
    await a.close();
    await logB.wait((e) => e.kind === "down" && e.peer === "a");
    expect(a.send("b", enc("x"))).toBe(false);
    expect(b.isConnected("a")).toBe(false);
  });
});
