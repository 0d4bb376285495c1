// Who TcpTransport admits: by default only configured node ids with their configured keys; with
// `admitUnknown`, also unconfigured ids (a bounded number), but never a configured id under another
// key, nor an id already held by another key.
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

const keys: Record<string, NodeKey> = Object.fromEntries(
  ["a", "b", "c", "d", "e"].map((id, i) => [id, nodeKeyFromSeed(new Uint8Array(32).fill(i + 1))]),
);
const open: TcpTransport[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function start(
  id: string,
  key: NodeKey,
  peers: TcpPeer[],
  extra: Partial<TcpTransportOptions> = {},
): Promise<TcpTransport> {
  const t = await TcpTransport.start({ id, key, peers, reconnectMinMs: 10, reconnectMaxMs: 50, ...extra });
  open.push(t);
  return t;
}

describe("admission", () => {
  it("refuses an unconfigured node by default and admits it when the transport is open", async () => {
    const errors = new Waitable<Error>();
    const closed = await start("z", keys.e!, [{ id: "b", publicKey: keys.b!.publicKey }], {
      listen: { host: "127.0.0.1", port: 0 },
      onConnectionError: (e) => errors.push(e),
    });
    await start("a", keys.a!, [
      { id: "z", publicKey: keys.e!.publicKey, host: "127.0.0.1", port: closed.address!.port },
    ]);
    const refused = await errors.wait((e) => e instanceof ChainDbError);
    expect((refused as ChainDbError).code).toBe(ErrorCode.PEER_UNKNOWN);

    const openT = await start("z", keys.e!, [], {
      listen: { host: "127.0.0.1", port: 0 },
      admitUnknown: true,
    });
    const log = new EventLog(openT);
    const a = await start("a", keys.a!, [
      { id: "z", publicKey: keys.e!.publicKey, host: "127.0.0.1", port: openT.address!.port },
    ]);
    await log.wait((e) => e.kind === "up" && e.peer === "a");
    expect(a.send("z", new Uint8Array([1]))).toBe(true);
    await log.wait((e) => e.kind === "msg" && e.from === "a");
    expect(openT.peerIds).toEqual([]); // admitted, not configured
  });

  it("an open transport still refuses a configured id under another key, a held id, and peers past unknownPeersMax", async () => {
    const errors = new Waitable<Error>();
    const z = await start("z", keys.e!, [{ id: "b", publicKey: keys.b!.publicKey }], {
      listen: { host: "127.0.0.1", port: 0 },
      admitUnknown: true,
      unknownPeersMax: 1,
      onConnectionError: (e) => errors.push(e),
    });
    const log = new EventLog(z);
    const to = { id: "z", publicKey: keys.e!.publicKey, host: "127.0.0.1", port: z.address!.port };
    // "b" is configured with b's key: c's key under the name "b" is refused
    await start("b", keys.c!, [to]).catch(() => undefined);
    await errors.wait(
      (e) =>
        (e as ChainDbError).code === ErrorCode.HANDSHAKE_FAILED && /not its configured key/.test(e.message),
    );
    // the first unconfigured peer gets in; a second id is over the limit; a's id under d's key is held
    await start("a", keys.a!, [to]);
    await log.wait((e) => e.kind === "up" && e.peer === "a");
    await start("c", keys.c!, [to]);
    await errors.wait((e) => (e as ChainDbError).code === ErrorCode.BUSY);
    await start("a", keys.d!, [to]);
    await errors.wait(
      (e) => (e as ChainDbError).code === ErrorCode.HANDSHAKE_FAILED && /held by another key/.test(e.message),
    );
    expect(z.isConnected("a")).toBe(true);
    expect(z.isConnected("c")).toBe(false);
  });
});
