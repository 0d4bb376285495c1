// ConsensusNode against a flooding peer: the inbox is bounded (a peer's messages beyond the bound
// are dropped and counted, the node goes on committing), and block-sync answers are paid from a
// per-peer byte budget (a 9-byte request used to answer a whole block, every time).
import { describe, expect, it } from "vitest";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  ConsensusNode,
  DEFAULT_SYNC_RATE,
  decodeMessage,
  SYNC_REQUEST_COST,
  type ChainGenesis,
} from "../../bindings/consensus/index.ts";
import { SimNetwork, type Transport, type TransportHandler } from "../../bindings/net/index.ts";

const CHAIN = 5;
const TIMEOUTS = {
  proposeMs: 300,
  proposeDeltaMs: 100,
  prevoteMs: 150,
  prevoteDeltaMs: 50,
  precommitMs: 150,
  precommitDeltaMs: 50,
};
const validator = keyPairFromSeed(new Uint8Array(32).fill(1));
const genesis: ChainGenesis = {
  accounts: [{ address: validator.publicKey, balance: 1000n }],
  validators: [{ address: validator.publicKey, stake: 1000n }],
};

/** `inner` with its handler captured (to deliver bursts synchronously, as a fast socket would). */
function capturing(
  inner: Transport,
  send?: (to: string, payload: Uint8Array) => boolean,
): { transport: Transport; handler: () => TransportHandler } {
  let handler: TransportHandler | undefined;
  const transport: Transport = {
    self: inner.self,
    peerIds: inner.peerIds,
    isConnected: (p) => inner.isConnected(p),
    send: send ?? ((to, payload) => inner.send(to, payload)),
    broadcast: (payload) => inner.broadcast(payload),
    setHandler: (h) => void (handler = h),
    close: () => inner.close(),
  };
  return { transport, handler: () => handler! };
}

function heightRequest(height: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = 3; // getBlock
  new DataView(out.buffer).setBigUint64(1, BigInt(height), true);
  return out;
}

describe("ConsensusNode inbox", () => {
  it("drops and counts a flooding peer's messages beyond the bound, and keeps committing", async () => {
    const net = new SimNetwork({ seed: 8 });
    const sim = net.addNode("v0");
    net.addNode("evil");
    const { transport, handler } = capturing(sim.transport);
    const node = await ConsensusNode.open({
      chainId: CHAIN,
      genesis,
      key: validator,
      transport,
      clock: sim.clock,
      timeouts: TIMEOUTS,
      newHeightDelayMs: 20,
      tickMs: 100,
      inbox: { eventsMax: 2048, peerEventsMax: 512 },
    });
    const status = new Uint8Array(9);
    status[0] = 2; // a well-formed status message (height 0): cheap, harmless, but it takes a slot
    for (let i = 0; i < 5000; i++) handler().onMessage("evil", status);
    expect(node.inboxSize).toBeLessThanOrEqual(512 + 2); // the peer's share, plus internal events
    expect(node.status().inboxDropped).toBe(5000 - 512);
    for (let i = 0; i < 5000; i++) handler().onMessage(`sybil${i % 8}`, status);
    expect(node.inboxSize).toBeLessThanOrEqual(2048 + 2); // the total bound holds across peers
    const from = node.height;
    expect(
      await net.runUntil(() => node.height >= from + 3, 10_000),
      `height ${node.height} failure ${String(node.failure)}`,
    ).toBe(true);
    expect(node.failure).toBe(null);
    await node.close();
  }, 30_000);

  it("handles events in arrival order, one at a time", async () => {
    const net = new SimNetwork({ seed: 9 });
    const sim = net.addNode("v0");
    net.addNode("peer");
    const sent: Uint8Array[] = [];
    const { transport, handler } = capturing(sim.transport, (_to, payload) => (sent.push(payload), true));
    const node = await ConsensusNode.open({
      chainId: CHAIN,
      genesis,
      key: validator,
      transport,
      clock: sim.clock,
      timeouts: TIMEOUTS,
      newHeightDelayMs: 20,
      tickMs: 100,
    });
    expect(await net.runUntil(() => node.height >= 4, 10_000)).toBe(true);
    await node.idle();
    for (const h of [3, 1, 4, 2]) handler().onMessage("peer", heightRequest(h));
    await node.idle();
    const answers = sent.filter((p) => p[0] === 4).map((p) => decodeMessage(p.subarray(1)));
    // Each answer is the certificate of the block asked for, in the order asked.
    expect(answers.map((m) => (m.kind === "commit" ? m.proposal.height : -1))).toEqual([3, 1, 4, 2]);
    await node.close();
  });
});

describe("ConsensusNode block sync budget", () => {
  it("answers a flood of 9-byte block requests only within the peer's byte budget", async () => {
    const net = new SimNetwork({ seed: 12 });
    const sim = net.addNode("v0");
    const evil = net.addNode("evil");
    let answers = 0;
    let answerBytes = 0;
    evil.transport.setHandler({
      onMessage: (_from, payload) => {
        if (payload[0] !== 4) return;
        answers++;
        answerBytes += payload.length;
      },
    });
    const node = await ConsensusNode.open({
      chainId: CHAIN,
      genesis,
      key: validator,
      transport: sim.transport,
      clock: sim.clock,
      timeouts: TIMEOUTS,
      newHeightDelayMs: 20,
      tickMs: 100,
    });
    expect(await net.runUntil(() => node.height >= 2, 10_000)).toBe(true);
    const t0 = sim.clock.now();
    const requests = 20_000;
    for (let i = 0; i < requests; i++) evil.transport.send("v0", heightRequest(1));
    await net.runFor(1000);
    await node.idle();
    const seconds = (sim.clock.now() - t0) / 1000;
    const perAnswer = SYNC_REQUEST_COST + answerBytes / Math.max(answers, 1);
    const allowed = (DEFAULT_SYNC_RATE.burst + DEFAULT_SYNC_RATE.perSecond * seconds) / perAnswer;
    // Before: every request was answered (20,000 blocks for 180 kB of requests).
    expect(answers).toBeGreaterThan(0);
    expect(answers).toBeLessThanOrEqual(Math.ceil(allowed));
    expect(answers).toBeLessThan(requests / 10);
    expect(node.status().syncRefused + node.status().inboxDropped).toBeGreaterThanOrEqual(requests - answers);
    await node.close();
  }, 30_000);
});
