// ConsensusNode on the seeded SimNetwork: four validators commit blocks of transfers and staking
// transactions and reach equal state roots; a double-voting validator is slashed, jailed and
// leaves the set two heights after the block with the evidence.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { keyPairFromSeed, signTransfer, type KeyPair } from "../../bindings/chain/index.ts";
import {
  ConsensusNode,
  SelectionSnapshot,
  byzantine,
  type ChainGenesis,
  type CommittedBlock,
  type Evidence,
} from "../../bindings/consensus/index.ts";
import { SimNetwork } from "../../bindings/net/index.ts";
import {
  BURN_ADDRESS,
  STAKE_POOL,
  signStakingTx,
  type SelectionMode,
} from "../../bindings/selection/index.ts";
import { nodeFilePort } from "../../bindings/store/index.ts";
import { toHex } from "../../bindings/util/index.ts";

const CHAIN = 7;
const TIMEOUTS = {
  proposeMs: 300,
  proposeDeltaMs: 100,
  prevoteMs: 150,
  prevoteDeltaMs: 50,
  precommitMs: 150,
  precommitDeltaMs: 50,
};
const validators = Array.from({ length: 4 }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
const users = Array.from({ length: 4 }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 101)));

function genesis(mode: SelectionMode): ChainGenesis {
  return {
    accounts: [...validators, ...users].map((k) => ({ address: k.publicKey, balance: 1_000_000n })),
    validators: validators.map((k) => ({ address: k.publicKey, stake: 1000n })),
    selection: { mode, unbondingHeights: 3, slashPpm: 100_000, maxValidators: 4, epochHeights: 4 },
  };
}

interface Cluster {
  net: SimNetwork;
  nodes: ConsensusNode[];
  commits: CommittedBlock[][];
  evidence: Evidence[];
}

async function start(mode: SelectionMode, seed: number, byzantineIndex = -1): Promise<Cluster> {
  const net = new SimNetwork({ seed });
  const ids = validators.map((_, i) => `v${i}`);
  for (const id of ids) net.addNode(id);
  const commits: CommittedBlock[][] = ids.map(() => []);
  const evidence: Evidence[] = [];
  const nodes = await Promise.all(
    ids.map((id, i) =>
      ConsensusNode.open({
        chainId: CHAIN,
        genesis: genesis(mode),
        key: validators[i]!,
        transport: net.node(id).transport,
        clock: net.node(id).clock,
        timeouts: TIMEOUTS,
        newHeightDelayMs: 20,
        tickMs: 100,
        onCommit: (b) => commits[i]!.push(b),
        onEvidence: (e) => evidence.push(e),
        ...(i === byzantineIndex
          ? { behavior: byzantine("double-vote", { variant: (v) => v, corrupt: (v) => v }) }
          : {}),
      }),
    ),
  );
  return { net, nodes, commits, evidence };
}

const transfer = (from: KeyPair, to: KeyPair, nonce: number) =>
  signTransfer(from, { chainId: CHAIN, to: to.publicKey, amount: 10, fee: 1, nonce });

describe("ConsensusNode on SimNetwork", () => {
  for (const mode of ["tendermint", "pos", "dpos"] as const) {
    it(`${mode}: commits blocks of transactions, every node reaches the same state root`, async () => {
      const c = await start(mode, 11);
      for (let n = 0; n < 3; n++)
        for (const [i, u] of users.entries()) c.nodes[i % 4]!.submit(transfer(u, users[(i + 1) % 4]!, n));
      if (mode === "pos")
        c.nodes[0]!.submit(
          signStakingTx(users[0]!, { kind: "stake", chainId: CHAIN, amount: 500, fee: 1, nonce: 3 }),
        );
      if (mode === "dpos")
        c.nodes[1]!.submit(
          signStakingTx(users[1]!, {
            kind: "vote",
            chainId: CHAIN,
            fee: 1,
            nonce: 3,
            candidates: [validators[2]!.publicKey],
          }),
        );
      const done = await c.net.runUntil(() => c.nodes.every((n) => n.height >= 6), 60_000);
      expect(
        done,
        `heights ${c.nodes.map((n) => n.height)} failure ${c.nodes.map((n) => String(n.failure))}`,
      ).toBe(true);
      await Promise.all(c.nodes.map((n) => n.idle()));
      const h = Math.min(...c.nodes.map((n) => n.height));
      const at = (i: number) => c.commits[i]!.find((b) => b.height === h)!;
      for (let i = 1; i < 4; i++) expect(toHex(at(i).root)).toBe(toHex(at(0).root));
      const txs = c.commits[0]!.reduce((s, b) => s + b.txs, 0);
      expect(txs).toBe(12 + (mode === "tendermint" ? 0 : 1));
      for (const u of users)
        expect(c.nodes[0]!.accounts.account(u.publicKey)!.nonce).toBe(
          mode !== "tendermint" && u === users[mode === "pos" ? 0 : 1] ? 4n : 3n,
        );
      if (mode === "pos") {
        expect(c.nodes[0]!.selectionState.bondOf(users[0]!.publicKey).bonded).toBe(500n);
        expect(c.nodes[0]!.accounts.account(STAKE_POOL)!.balance).toBe(4500n);
      }
      for (const n of c.nodes) await n.close();
    }, 60_000);
  }

  for (const mode of ["pos", "dpos"] as const) {
    it(`${mode}: a double voter's evidence is committed, it is slashed, jailed and out of the set two heights later`, async () => {
      const c = await start(mode, 23, 3);
      const offender = toHex(validators[3]!.publicKey);
      const slashedAt = () => c.commits[0]!.find((b) => b.slashed.some((a) => toHex(a) === offender))?.height;
      const done = await c.net.runUntil(
        () => slashedAt() !== undefined && c.nodes.every((n) => n.height >= slashedAt()! + 3),
        60_000,
      );
      expect(
        done,
        `heights ${c.nodes.map((n) => n.height)} evidence ${c.evidence.length} failure ${c.nodes.map((n) => String(n.failure))}`,
      ).toBe(true);
      const h = slashedAt()!;
      const node = c.nodes[0]!;
      const inSet = (height: number) => node.validatorsAt(height).indexOf(validators[3]!.publicKey) >= 0;
      expect(inSet(h + 1)).toBe(true);
      expect(inSet(h + 2)).toBe(false);
      expect(node.selectionState.bondOf(validators[3]!.publicKey).jailed).toBe(true);
      if (mode === "pos") {
        expect(node.selectionState.bondOf(validators[3]!.publicKey).bonded).toBeLessThan(1000n);
        expect(node.accounts.account(BURN_ADDRESS)!.balance).toBeGreaterThan(0n);
        // Supply: nothing created or destroyed; burned stake sits at the burn address.
        const total = [
          ...validators,
          ...users,
          { publicKey: STAKE_POOL },
          { publicKey: BURN_ADDRESS },
        ].reduce((s, k) => s + (node.accounts.account(k.publicKey)?.balance ?? 0n), 0n);
        expect(total).toBe(8n * 1_000_000n + 4000n);
      }
      const roots = new Set(
        c.nodes.map((_, i) => toHex(c.commits[i]!.find((b) => b.height === h + 2)!.root)),
      );
      expect(roots.size).toBe(1);
      for (const n of c.nodes) await n.close();
    }, 60_000);
  }
});

describe("ConsensusNode block sync", () => {
  it("a validator cut off for many heights fetches the blocks with their certificates and catches up", async () => {
    const c = await start("tendermint", 31);
    c.net.partition([["v0", "v1", "v2"], ["v3"]]);
    expect(await c.net.runUntil(() => c.nodes[0]!.height >= 8, 60_000)).toBe(true);
    expect(c.nodes[3]!.height).toBeLessThan(2);
    c.net.heal();
    const target = c.nodes[0]!.height;
    expect(
      await c.net.runUntil(() => c.nodes[3]!.height >= target, 60_000),
      `heights ${c.nodes.map((n) => n.height)}`,
    ).toBe(true);
    expect(c.nodes[3]!.syncedBlocks).toBeGreaterThan(0);
    await Promise.all(c.nodes.map((n) => n.idle()));
    expect(toHex(c.commits[3]!.find((b) => b.height === target)!.root)).toBe(
      toHex(c.commits[0]!.find((b) => b.height === target)!.root),
    );
    for (const n of c.nodes) await n.close();
  }, 60_000);
});

describe("ConsensusNode recovery from its files", () => {
  it("finishes blocks a crash cut off (block stored, selection snapshot ahead, ledger behind) and reaches its peers' root", async () => {
    const root = mkdtempSync(join(tmpdir(), "chaindb-node-recovery-"));
    try {
      const net = new SimNetwork({ seed: 5 });
      const ids = validators.map((_, i) => `v${i}`);
      for (const id of ids) net.addNode(id);
      const open = (
        i: number,
        transport = net.node(ids[i]!).transport,
        clock = net.node(ids[i]!).clock,
        haltHeight?: number,
      ) =>
        ConsensusNode.open({
          chainId: CHAIN,
          genesis: genesis("pos"),
          key: validators[i]!,
          transport,
          clock,
          dir: join(root, ids[i]!),
          timeouts: TIMEOUTS,
          newHeightDelayMs: 20,
          tickMs: 100,
          ...(haltHeight ? { haltHeight } : {}),
        });
      // v0 stops after height 3; the other three go on to 7.
      const nodes = await Promise.all(
        ids.map((_, i) => open(i, undefined, undefined, i === 0 ? 3 : undefined)),
      );
      nodes[1]!.submit(transfer(users[0]!, users[1]!, 0));
      nodes[1]!.submit(
        signStakingTx(users[2]!, { kind: "stake", chainId: CHAIN, amount: 50, fee: 1, nonce: 0 }),
      );
      expect(
        await net.runUntil(
          () => nodes[0]!.height === 3 && nodes.slice(1).every((n) => n.height >= 7),
          60_000,
        ),
      ).toBe(true);
      await Promise.all(nodes.map((n) => n.idle()));
      const ahead = nodes[1]!;
      const [aheadHeight, aheadRoot] = [ahead.height, toHex(ahead.root())];
      for (const n of nodes) await n.close();
      // The crash: v0 had stored blocks 4.. (v1's block store holds the same chain) and written the
      // selection snapshot of height 4, but its ledger never took block 4.
      rmSync(join(root, "v0", "blocks"), { recursive: true });
      cpSync(join(root, "v1", "blocks"), join(root, "v0", "blocks"), { recursive: true });
      const snapshots = new SelectionSnapshot(join(root, "v0"), nodeFilePort);
      const snapshot = snapshots.read()!;
      snapshots.writeStored({ height: 4, state: snapshot.state, previous: snapshot.state });
      const alone = new SimNetwork({ seed: 6 }).addNode("v0");
      const reopened = await open(0, alone.transport, alone.clock);
      expect(reopened.height).toBe(aheadHeight);
      expect(toHex(reopened.root())).toBe(aheadRoot);
      expect(reopened.selectionState.bondOf(users[2]!.publicKey).bonded).toBe(50n);
      await reopened.close();
      // v1's consensus log was compacted at height 4; it restarts from it to the same state.
      const v1 = new SimNetwork({ seed: 7 }).addNode("v1");
      const restarted = await open(1, v1.transport, v1.clock);
      expect([restarted.height, toHex(restarted.root())]).toEqual([aheadHeight, aheadRoot]);
      await restarted.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("ConsensusNode with a single validator", () => {
  it("decides on its own votes from the first height, and again after a restart from its files", async () => {
    const root = mkdtempSync(join(tmpdir(), "chaindb-node-single-"));
    try {
      const only = validators[0]!;
      const lone: ChainGenesis = {
        accounts: [
          { address: only.publicKey, balance: 1_000_000n },
          { address: users[0]!.publicKey, balance: 1000n },
        ],
        validators: [{ address: only.publicKey, stake: 1000n }],
      };
      const heights: number[] = [];
      for (const seed of [41, 42]) {
        const net = new SimNetwork({ seed });
        const sim = net.addNode("v0");
        // Before the fix, open() threw "engine at height 2, ledger at 0" (start() decides at once).
        const node = await ConsensusNode.open({
          chainId: CHAIN,
          genesis: lone,
          key: only,
          transport: sim.transport,
          clock: sim.clock,
          dir: root,
          timeouts: TIMEOUTS,
          newHeightDelayMs: 20,
          tickMs: 100,
        });
        const from = node.height;
        node.submit(transfer(users[0]!, users[1]!, seed - 41));
        expect(
          await net.runUntil(() => node.height >= from + 3, 10_000),
          `height ${node.height} failure ${String(node.failure)}`,
        ).toBe(true);
        await node.idle();
        expect(node.failure).toBe(null);
        expect(node.accounts.account(users[0]!.publicKey)!.nonce).toBe(BigInt(seed - 40));
        heights.push(from, node.height);
        await node.close();
      }
      expect(heights[2]).toBeGreaterThanOrEqual(heights[1]!); // resumed from its files, not genesis
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 30_000);
});
