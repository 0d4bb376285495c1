// Attacks on TcpTransport's channel by a party that holds no node key, over real loopback
// sockets: splicing two nodes' handshakes to speak as one of them (issue 14's relay attack), and
// replaying, reordering, dropping, modifying or truncating the frames of a live link.
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ChainDbError, ErrorCode } from "../../bindings/util/index.ts";
import {
  FrameDecoder,
  TcpTransport,
  nodeKeyFromSeed,
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

function dialRaw(port: number): Socket {
  const s = connect({ host: "127.0.0.1", port });
  s.on("error", () => {});
  cleanup.push(() => void s.destroy());
  return s;
}

/** A length-prefixed frame as the old transport sent data: length ‖ type 3 ‖ body. */
function plaintextDataFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, 1 + body.length, false);
  out[4] = 3;
  out.set(body, 5);
  return out;
}

describe("relay attack (issue 14)", () => {
  it("a keyless relay that splices a's and b's handshakes can forward b's messages but never inject one as b", async () => {
    // Neither node dials (no addresses): the only connection between them is the attacker's splice.
    const errorsA = new Waitable<Error>();
    const a = await start("a", [{ id: "b", publicKey: keys.b!.publicKey }], {
      onConnectionError: (e) => errorsA.push(e),
    });
    const b = await start("b", [{ id: "a", publicKey: keys.a!.publicKey }]);
    const [logA, logB] = [new EventLog(a), new EventLog(b)];
    const toA = dialRaw(a.address!.port);
    const toB = dialRaw(b.address!.port);
    toA.on("data", (chunk: Buffer) => toB.write(chunk));
    toB.on("data", (chunk: Buffer) => toA.write(chunk));
    await logA.wait((e) => e.kind === "up" && e.peer === "b");
    await logB.wait((e) => e.kind === "up" && e.peer === "a");
    // The relay forwards what b really sends ...
    expect(b.send("a", enc("genuine from b"))).toBe(true);
    await logA.wait((e) => e.kind === "msg" && e.from === "b" && e.text === "genuine from b");
    // ... but a frame it writes itself, in the framing the transport uses, is not b's.
    toA.write(plaintextDataFrame(enc("injected as b")));
    toA.write(new Uint8Array(64).fill(7).map((x, i) => (i < 4 ? [0, 0, 0, 60][i]! : x)));
    const outcome = await logA.wait(
      (e) => (e.kind === "down" && e.peer === "b") || (e.kind === "msg" && e.text.startsWith("injected")),
    );
    expect(outcome.kind).toBe("down");
    expect(logA.events.some((e) => e.kind === "msg" && e.text !== "genuine from b")).toBe(false);
    const error = await errorsA.wait((e) => e instanceof ChainDbError);
    expect((error as ChainDbError).code).toBe(ErrorCode.BAD_MESSAGE);
  });

  it("a relay that answers each side with its own ephemeral key cannot complete either handshake", async () => {
    const errorsA = new Waitable<Error>();
    const a = await start("a", [{ id: "b", publicKey: keys.b!.publicKey }], {
      onConnectionError: (e) => errorsA.push(e),
    });
    const b = await start("b", [{ id: "a", publicKey: keys.a!.publicKey }]);
    const logA = new EventLog(a);
    // The attacker is a man in the middle with its own X25519 keys toward each side: it receives b's
    // AUTH sealed under its b-side session and re-seals it for a. b's signature covers the b-side
    // challenge, which a never derives, so a must refuse it.
    const { newEphemeral, encodeHello, decodeHello, deriveSession, Sealer } =
      await import("../../bindings/net/index.ts");
    const network = enc("chaindb");
    const mitmA = newEphemeral();
    const mitmB = newEphemeral();
    const toA = dialRaw(a.address!.port);
    const toB = dialRaw(b.address!.port);
    const frame = (body: Uint8Array) => {
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setUint32(0, body.length, false);
      out.set(body, 4);
      return out;
    };
    toA.write(frame(encodeHello(mitmA)));
    toB.write(frame(encodeHello(mitmB)));
    const decA = new FrameDecoder(4096);
    const decB = new FrameDecoder(4096);
    let sessionA: ReturnType<typeof deriveSession> | undefined;
    let sessionB: ReturnType<typeof deriveSession> | undefined;
    let sealA: InstanceType<typeof Sealer> | undefined;
    let openB: InstanceType<typeof Sealer> | undefined;
    toA.on("data", (chunk: Buffer) => {
      for (const f of decA.push(new Uint8Array(chunk))) {
        if (sessionA === undefined) {
          sessionA = deriveSession(mitmA, decodeHello(f), network);
          sealA = new Sealer(sessionA.sendKey);
        }
      }
    });
    toB.on("data", (chunk: Buffer) => {
      for (const f of decB.push(new Uint8Array(chunk))) {
        if (sessionB === undefined) {
          sessionB = deriveSession(mitmB, decodeHello(f), network);
          openB = new Sealer(sessionB.receiveKey);
          continue;
        }
        const plain = openB!.open(f); // b's AUTH (type 2 ‖ id ‖ key ‖ signature), readable by the MITM
        toA.write(frame(sealA!.seal(plain[0]!, plain.subarray(1))));
      }
    });
    const error = await errorsA.wait((e) => e instanceof ChainDbError);
    expect((error as ChainDbError).code).toBe(ErrorCode.HANDSHAKE_FAILED);
    expect(error.message).toMatch(/failed to prove its key/);
    expect(logA.events.some((e) => e.kind === "up")).toBe(false);
  });
});

type Tamper = "replay" | "reorder" | "drop" | "modify" | "truncate";

/**
 * A proxy between a (dialing it as b) and b that forwards b→a untouched and, on a→b, applies
 * `tamper` to data frame `at` (frames 0..2 are a's HELLO, AUTH and READY).
 */
async function tamperingProxy(bPort: number, tamper: Tamper, at: number): Promise<Server> {
  const server = createServer((fromA) => {
    const toB = connect({ host: "127.0.0.1", port: bPort });
    for (const s of [fromA, toB]) s.on("error", () => {});
    cleanup.push(() => void (fromA.destroy(), toB.destroy()));
    toB.on("data", (chunk: Buffer) => fromA.write(chunk));
    const decoder = new FrameDecoder(1 << 20);
    let index = -3;
    let held: Uint8Array | undefined;
    fromA.on("data", (chunk: Buffer) => {
      for (const body of decoder.push(new Uint8Array(chunk))) {
        const f = new Uint8Array(4 + body.length);
        new DataView(f.buffer).setUint32(0, body.length, false);
        f.set(body, 4);
        const i = index++;
        if (i !== at && held === undefined) toB.write(f);
        else if (i !== at) (toB.write(f), toB.write(held!), (held = undefined));
        else if (tamper === "replay") (toB.write(f), toB.write(f));
        else if (tamper === "reorder") held = f;
        else if (tamper === "modify") ((f[f.length - 20]! ^= 1), toB.write(f));
        else if (tamper === "truncate") (toB.end(f.subarray(0, f.length - 5)), fromA.destroy());
        // "drop": nothing is written
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

describe("a live link's frames cannot be tampered with", () => {
  const cases: [Tamper, string[]][] = [
    ["replay", ["m0", "m1", "m2"]],
    ["reorder", ["m0", "m1"]],
    ["drop", ["m0", "m1"]],
    ["modify", ["m0", "m1"]],
    ["truncate", ["m0", "m1"]],
  ];
  it.each(cases)(
    "%s of a data frame: b delivers only genuine messages in order, then the link closes",
    async (tamper, most) => {
      const errorsB = new Waitable<Error>();
      const b = await start("b", [{ id: "a", publicKey: keys.a!.publicKey }], {
        onConnectionError: (e) => errorsB.push(e),
      });
      const logB = new EventLog(b);
      const proxy = await tamperingProxy(b.address!.port, tamper, 2);
      const port = (proxy.address() as { port: number }).port;
      const a = await start("a", [{ id: "b", publicKey: keys.b!.publicKey, host: "127.0.0.1", port }], {
        listen: undefined,
        reconnectMinMs: 60_000,
      });
      const logA = new EventLog(a);
      await logA.wait((e) => e.kind === "up" && e.peer === "b");
      for (let i = 0; i < 6; i++) expect(a.send("b", enc(`m${i}`))).toBe(true);
      await logB.wait((e) => e.kind === "down" && e.peer === "a");
      const got = logB.events.filter((e) => e.kind === "msg").map((e) => (e as { text: string }).text);
      // Messages authenticated before the bad frame may be delivered (or lost with the link): a prefix.
      expect(most.slice(0, got.length)).toEqual(got);
      if (tamper !== "truncate") {
        const error = await errorsB.wait((e) => e instanceof ChainDbError);
        expect((error as ChainDbError).code).toBe(ErrorCode.BAD_MESSAGE);
      }
    },
  );
});
