/**
 * The secure channel's own cost, measured beside the consensus TCP cases (bench/consensus.bench.ts):
 * per frame, sealing and opening (ChaCha20-Poly1305 with a counter nonce, bindings/net/secure.ts)
 * against the plaintext framing the transport used before (length prefix, copy, FrameDecoder), at
 * the sizes consensus sends — a precommit and the commit of a default 1,000-transfer block; and a
 * whole connection set-up over loopback: TcpTransport's handshake (X25519, HKDF, ed25519 sign and
 * verify, three round trips of frames) against a bare TCP connect. Side by side in one run; the
 * ratios are the price of encryption and authentication.
 * @module
 */
import { connect, createServer } from "node:net";
import { VoteType, encodeMessage } from "../bindings/consensus/index.ts";
import { FrameDecoder, Sealer, TcpTransport, encodeFrame, nodeKeyFromSeed } from "../bindings/net/index.ts";
import { caseFromSamples, consume, measure, median, type CaseResult, type CaseSpec } from "./lib.ts";

const vote = encodeMessage({
  kind: "vote",
  type: VoteType.Precommit,
  height: 1000,
  round: 0,
  valueId: new Uint8Array(32).fill(1),
  validator: new Uint8Array(32),
  signature: new Uint8Array(64),
});
/** The size of the commit of a default block (1,000 transfers, 4 validators; test/net/frame-limit.test.ts). */
const BLOCK_MESSAGE_SIZE = 160_440;

function frameCases(name: string, payload: Uint8Array): CaseSpec[] {
  const plainDecoder = new FrameDecoder(1 << 24);
  const sealedDecoder = new FrameDecoder(1 << 24);
  const key = new Uint8Array(32).fill(7);
  const tx = new Sealer(key);
  const rx = new Sealer(key);
  const params = { bytes: payload.length };
  const group = "secure channel: per frame";
  return [
    {
      id: `frame-plain-${name}`,
      label: `plaintext frame, ${name} (${payload.length} B): encode + decode`,
      group,
      unit: "frames/s",
      units: 1,
      params,
      run: () => consume(plainDecoder.push(encodeFrame(payload, 1 << 24))[0]!.length),
    },
    {
      id: `frame-sealed-${name}`,
      label: `sealed frame, ${name} (${payload.length} B): seal + frame + decode + open`,
      group,
      unit: "frames/s",
      units: 1,
      params,
      baseline: `frame-plain-${name}`,
      run: () => consume(rx.open(sealedDecoder.push(encodeFrame(tx.seal(3, payload), 1 << 24))[0]!).length),
    },
  ];
}

/** Milliseconds for one bare TCP connect + accept on loopback. */
async function bareConnectMs(): Promise<number> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => (s.destroy(), resolve()));
    s.on("error", reject);
  });
  const ms = performance.now() - t0;
  await new Promise<void>((r) => server.close(() => r()));
  return ms;
}

/** Milliseconds from dialing to both TcpTransports reporting the other up (listener already bound). */
async function handshakeMs(): Promise<number> {
  const [ka, kb] = [nodeKeyFromSeed(new Uint8Array(32).fill(1)), nodeKeyFromSeed(new Uint8Array(32).fill(2))];
  const b = await TcpTransport.start({
    id: "b",
    key: kb,
    listen: { host: "127.0.0.1", port: 0 },
    peers: [{ id: "a", publicKey: ka.publicKey }],
  });
  const bUp = new Promise<void>((resolve) =>
    b.setHandler({ onMessage: () => {}, onPeerUp: () => resolve() }),
  );
  const t0 = performance.now();
  const a = await TcpTransport.start({
    id: "a",
    key: ka,
    peers: [{ id: "b", publicKey: kb.publicKey, host: "127.0.0.1", port: b.address!.port }],
  });
  const aUp = new Promise<void>((resolve) =>
    a.setHandler({ onMessage: () => {}, onPeerUp: () => resolve() }),
  );
  await Promise.all([aUp, bUp]);
  const ms = performance.now() - t0;
  await Promise.all([a.close(), b.close()]);
  return ms;
}

/** The secure channel's cases: per-frame cost by size and connection set-up, each with its plaintext baseline. */
export async function secureChannelCases(
  quick: boolean,
  onProgress?: (m: string) => void,
): Promise<CaseResult[]> {
  const cases = await measure(
    [...frameCases("precommit", vote), ...frameCases("block", new Uint8Array(BLOCK_MESSAGE_SIZE).fill(3))],
    { rounds: quick ? 3 : 5, timeMs: quick ? 200 : 500, onProgress },
  );
  const bare: number[] = [];
  const secure: number[] = [];
  for (let i = 0; i < (quick ? 10 : 30); i++) {
    bare.push(await bareConnectMs());
    secure.push(await handshakeMs());
  }
  const group = "secure channel: connection set-up";
  const connects = caseFromSamples(
    "connect-bare",
    "bare TCP connect on loopback",
    group,
    "connections/s",
    [1000 / median(bare)],
    { samples: bare.length },
  );
  const handshakes = caseFromSamples(
    "connect-secure",
    "TcpTransport connect + secure handshake, both sides up",
    group,
    "connections/s",
    [1000 / median(secure)],
    { samples: secure.length },
    "connect-bare",
  );
  handshakes.ratio = handshakes.median / connects.median;
  return [...cases, connects, handshakes];
}
