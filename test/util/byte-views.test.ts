/**
 * Bytes in, bytes out, whatever the view (issue 15 part 5). Every public function that takes bytes
 * runs three times on the same values: fresh `Uint8Array`s, Node `Buffer`s from the shared pool
 * (`Buffer.from` of a small array), and subarrays at odd offsets of a larger array. It must give
 * the same answer each time, leave its inputs untouched (unless writing in place is its contract),
 * write nothing outside its inputs (the pool bytes and canary bytes around them are compared), and
 * return nothing that aliases an input (the inputs are scribbled over afterwards and the answer
 * read again). Values are drawn by fast-check from a fixed seed.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import vectors from "../vectors/bitcoin-headers.json" with { type: "json" };
import {
  Ledger,
  blockHash,
  blockHashBytes,
  bitsToTarget,
  checkProofOfWork,
  createEngine,
  createKvStore,
  decodeConsensusMessage,
  decodeHeader,
  decodeMessage,
  decodeStakingTx,
  decodeTransfer,
  encodeConsensusMessage,
  encodeHeader,
  encodeMessage,
  fromHex,
  getNonce,
  hashMeetsTarget,
  hashToHex,
  headerWithNonce,
  keyPairFromSeed,
  mine,
  setNonce,
  setTime,
  signProposal,
  signStakingTx,
  signTransfer,
  signVote,
  targetToBigInt,
  targetToBits,
  toHex,
  valueIdOf,
  verifyProof,
  verifyProposal,
  verifyStakingTxSignature,
  verifyTransferSignature,
  verifyVote,
  workFromTarget,
  VoteType,
  type Engine,
} from "../../bindings/index.ts";
import {
  decodeProof,
  ed25519Sign,
  ed25519Verify,
  encodeProof,
  packTransfers,
} from "../../bindings/chain/index.ts";
import { decodeBlock, encodeBlock } from "../../bindings/consensus/index.ts";
import { decodeBlockTxs, decodeChainTx, encodeBlockTxs } from "../../bindings/selection/index.ts";
import {
  FileKeyStorage,
  decodeBlock as decodePowBlock,
  decodeEntry,
  encodeEntry,
  encodeBlock as encodePowBlock,
} from "../../bindings/replication/index.ts";
import { FileTwoPcLog } from "../../bindings/txn/index.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

type View = "fresh Uint8Array" | "pooled Buffer" | "odd-offset subarray";
const VIEWS: readonly View[] = ["fresh Uint8Array", "pooled Buffer", "odd-offset subarray"];

/** One function under test: its byte inputs, and a call on (views of) them. */
interface Case {
  readonly name: string;
  readonly inputs: readonly Uint8Array[];
  readonly run: (views: Uint8Array[]) => unknown;
  /** The function writes into its inputs by contract (setNonce, setTime). */
  readonly inPlace?: boolean;
  /** The result holds the caller's arrays by design (a signed message built from its fields). */
  readonly holdsInputs?: boolean;
}

/** Views of `inputs` of one kind, and a check that nothing around them changed. */
function makeViews(
  kind: View,
  inputs: readonly Uint8Array[],
): { views: Uint8Array[]; checkSurroundings: () => void } {
  if (kind === "fresh Uint8Array")
    return { views: inputs.map((b) => new Uint8Array(b)), checkSurroundings: () => {} };
  if (kind === "pooled Buffer") {
    // Start a new pool so every byte in front of our buffers is ours (a stray write at the pool's
    // offset 0, the old searchNonce bug, lands in the guard).
    let probe = Buffer.allocUnsafe(8);
    for (let i = 0; i < 2048 && probe.byteOffset !== 0; i++) probe = Buffer.allocUnsafe(8);
    const guardFront = Buffer.alloc(0); // keeps the pool position explicit
    void guardFront;
    const front = Buffer.from(new Uint8Array(120).fill(0xa5));
    const views = inputs.map((b) => Buffer.from(b));
    const back = Buffer.from(new Uint8Array(64).fill(0x5a));
    const pool = new Uint8Array(probe.buffer);
    const end = back.byteOffset + back.length;
    const ours = views.filter((v) => v.buffer === probe.buffer);
    const outside = (i: number) => !ours.some((v) => i >= v.byteOffset && i < v.byteOffset + v.length);
    const before = pool.slice(0, end);
    expect(front.buffer).toBe(probe.buffer);
    return {
      views,
      checkSurroundings: () => {
        for (let i = 0; i < end; i++)
          if (outside(i) && pool[i] !== before[i])
            throw new Error(`wrote pool byte ${i} (outside its inputs)`);
      },
    };
  }
  const pad = 7;
  const backing = new Uint8Array(inputs.reduce((n, b) => n + b.length + pad, pad)).fill(0xc3);
  let at = pad - 4; // odd offsets: 3, then 3 + length + 7, …
  const views = inputs.map((b) => {
    const v = backing.subarray(at, at + b.length);
    v.set(b);
    at += b.length + pad;
    return v;
  });
  const snapshot = backing.slice();
  const inside = (i: number) => views.some((v) => i >= v.byteOffset && i < v.byteOffset + v.length);
  return {
    views,
    checkSurroundings: () => {
      for (let i = 0; i < backing.length; i++)
        if (!inside(i) && backing[i] !== snapshot[i])
          throw new Error(`wrote byte ${i} of the backing array (outside its inputs)`);
    },
  };
}

/** A comparable form of a result: bytes as hex, bigints as strings; a function is called (a probe). */
async function normal(x: unknown): Promise<unknown> {
  if (typeof x === "function") return normal(await (x as () => unknown)());
  if (x instanceof Promise) return normal(await x);
  if (x instanceof Uint8Array) return `bytes:${toHex(x)}`;
  if (typeof x === "bigint") return `bigint:${x}`;
  if (Array.isArray(x)) return Promise.all(x.map(normal));
  if (x !== null && typeof x === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = await normal(v);
    return out;
  }
  return x;
}

async function outcome(run: () => unknown): Promise<unknown> {
  try {
    const value = await run();
    return { value, shown: await normal(value) };
  } catch (error) {
    return { value: undefined, shown: { threw: (error as { code?: string }).code ?? String(error) } };
  }
}

/** Runs `c` on every view kind and checks the four properties. */
async function checkCase(c: Case): Promise<void> {
  let expected: unknown;
  for (const kind of VIEWS) {
    const { views, checkSurroundings } = makeViews(kind, c.inputs);
    const got = (await outcome(() => c.run(views))) as { value: unknown; shown: unknown };
    const where = `${c.name} on a ${kind}`;
    checkSurroundings();
    if (!c.inPlace)
      views.forEach((v, i) => expect(toHex(v), `${where}: input ${i} changed`).toBe(toHex(c.inputs[i]!)));
    if (kind === "fresh Uint8Array") expected = got.shown;
    else expect(got.shown, where).toEqual(expected);
    if (c.inPlace || c.holdsInputs) continue;
    for (const v of views) v.fill(0xee);
    expect(await normal(got.value), `${where}: the result aliases an input`).toEqual(got.shown);
  }
}

const seq = (n: number, from = 1) => Uint8Array.from({ length: n }, (_, i) => (from + i * 7) & 0xff);
const key = keyPairFromSeed(seq(32, 3));
const CHAIN = 9;

/** Mainnet headers with the nonce zeroed, to be searched for their real nonce. */
const mainnet = vectors.headers
  .slice(0, 3)
  .map((v) => ({ header: headerWithNonce(fromHex(v.header), 0), nonce: v.nonce }));

function engineCases(engine: Engine): Case[] {
  const e = engine.name;
  return [
    { name: `${e} sha256`, inputs: [seq(200)], run: ([d]) => engine.sha256(d!) },
    { name: `${e} sha256 (5 KiB, unpooled)`, inputs: [seq(5000)], run: ([d]) => engine.sha256(d!) },
    { name: `${e} sha256d`, inputs: [seq(80)], run: ([d]) => engine.sha256d(d!) },
    {
      name: `${e} sha256Many`,
      inputs: [seq(64, 1), seq(64, 2), seq(64, 3), seq(64, 4), seq(64, 5)],
      run: (ms) => engine.sha256Many(ms),
    },
    {
      name: `${e} merkleRoot`,
      inputs: [seq(32, 1), seq(32, 2), seq(32, 3)],
      run: (hs) => engine.merkleRoot(hs),
    },
    ...mainnet.map((m, i) => ({
      name: `${e} searchNonce, mainnet header ${i}`,
      inputs: [m.header, bitsToTarget(decodeHeader(m.header).bits)],
      run: ([h, t]: Uint8Array[]) => {
        const r = engine.searchNonce(h!, t!, m.nonce - 5, 10);
        expect(r.nonce, "the solving nonce").toBe(m.nonce);
        return r;
      },
    })),
  ];
}

const header = encodeHeader({
  version: 2,
  prevHash: seq(32, 5),
  merkleRoot: seq(32, 6),
  time: 1_700_000_000,
  bits: 0x207fffff,
  nonce: 77,
});
const transfer = signTransfer(key, { chainId: CHAIN, to: seq(32, 8), amount: 5n, fee: 1n, nonce: 0n });
const staking = signStakingTx(key, {
  kind: "vote",
  chainId: CHAIN,
  fee: 1n,
  nonce: 0n,
  candidates: [seq(32, 1), seq(32, 2)],
});
const proposal = signProposal("views", key.secretKey, key.publicKey, {
  height: 3,
  round: 1,
  validRound: 0,
  value: seq(100),
});
const vote = signVote("views", key.secretKey, key.publicKey, {
  type: VoteType.Precommit,
  height: 3,
  round: 1,
  valueId: proposal.valueId,
});

/** Account records as sorted hex (exportAccounts gives them in any order). */
const records = (all: Uint8Array) =>
  Array.from({ length: all.length / 48 }, (_, i) => toHex(all.subarray(48 * i, 48 * i + 48))).sort();

async function ledgerWith(engine: "wasm" | "ts"): Promise<Ledger> {
  return Ledger.open({ engine, chainId: CHAIN, genesis: [{ address: key.publicKey, balance: 100n }] });
}

const formatCases: Case[] = [
  {
    name: "encodeHeader",
    inputs: [seq(32, 1), seq(32, 2)],
    run: ([p, m]) => encodeHeader({ version: 1, prevHash: p!, merkleRoot: m!, time: 1, bits: 2, nonce: 3 }),
  },
  { name: "decodeHeader", inputs: [header], run: ([h]) => decodeHeader(h!) },
  { name: "blockHash", inputs: [header], run: ([h]) => blockHash(h!) },
  { name: "blockHashBytes", inputs: [header], run: ([h]) => blockHashBytes(h!) },
  { name: "getNonce", inputs: [header], run: ([h]) => getNonce(h!) },
  { name: "setNonce (in place)", inputs: [header], run: ([h]) => setNonce(h!, 0xdeadbeef), inPlace: true },
  { name: "setTime (in place)", inputs: [header], run: ([h]) => setTime(h!, 12345), inPlace: true },
  { name: "headerWithNonce", inputs: [header], run: ([h]) => headerWithNonce(h!, 9) },
  { name: "hashToHex", inputs: [seq(32)], run: ([h]) => hashToHex(h!) },
  { name: "toHex", inputs: [seq(33)], run: ([h]) => toHex(h!) },
  { name: "targetToBits", inputs: [bitsToTarget(0x1d00ffff)], run: ([t]) => targetToBits(t!) },
  { name: "targetToBigInt", inputs: [bitsToTarget(0x1b0404cb)], run: ([t]) => targetToBigInt(t!) },
  { name: "workFromTarget", inputs: [bitsToTarget(0x1b0404cb)], run: ([t]) => workFromTarget(t!) },
  {
    name: "hashMeetsTarget",
    inputs: [seq(32), bitsToTarget(0x207fffff)],
    run: ([h, t]) => hashMeetsTarget(h!, t!),
  },
  {
    name: "checkProofOfWork",
    inputs: [fromHex(vectors.headers[2]!.header)],
    run: ([h]) => checkProofOfWork(h!),
  },
  { name: "keyPairFromSeed", inputs: [seq(32, 11)], run: ([s]) => keyPairFromSeed(s!) },
  {
    name: "ed25519Sign + Verify",
    inputs: [key.secretKey, seq(99)],
    run: ([sk, m]) => ({
      sig: ed25519Sign(sk!, m!),
      ok: ed25519Verify(key.publicKey, m!, ed25519Sign(sk!, m!)),
    }),
  },
  {
    name: "signTransfer",
    inputs: [key.secretKey, key.publicKey, seq(32, 4)],
    run: ([sk, pk, to]) =>
      signTransfer(
        { secretKey: sk!, publicKey: pk! },
        { chainId: 1, to: to!, amount: 1n, fee: 0n, nonce: 2n },
      ),
  },
  { name: "decodeTransfer", inputs: [transfer], run: ([t]) => decodeTransfer(t!) },
  { name: "verifyTransferSignature", inputs: [transfer], run: ([t]) => verifyTransferSignature(t!) },
  {
    name: "signStakingTx",
    inputs: [seq(32, 1), seq(32, 2)],
    run: (c) => signStakingTx(key, { kind: "vote", chainId: 1, fee: 0n, nonce: 0n, candidates: c }),
  },
  { name: "decodeStakingTx", inputs: [staking], run: ([t]) => decodeStakingTx(t!) },
  { name: "verifyStakingTxSignature", inputs: [staking], run: ([t]) => verifyStakingTxSignature(t!) },
  { name: "decodeChainTx (transfer)", inputs: [transfer], run: ([t]) => decodeChainTx(t!, CHAIN) },
  { name: "decodeChainTx (staking)", inputs: [staking], run: ([t]) => decodeChainTx(t!, CHAIN) },
  {
    name: "decodeBlockTxs",
    inputs: [encodeBlockTxs({ feeRecipient: seq(32), txs: [transfer, staking] })],
    run: ([b]) => decodeBlockTxs(b!),
  },
  { name: "net encodeMessage", inputs: [seq(40)], run: ([b]) => encodeMessage({ b: b!, n: 5n }) },
  {
    name: "net decodeMessage",
    inputs: [encodeMessage({ b: seq(40), n: 5n })],
    run: ([b]) => decodeMessage(b!),
  },
  { name: "valueIdOf", inputs: [seq(300)], run: ([v]) => valueIdOf(v!) },
  {
    name: "signProposal + verifyProposal",
    inputs: [key.secretKey, seq(120)],
    run: ([sk, v]) => {
      const p = signProposal("views", sk!, key.publicKey, { height: 1, round: 0, validRound: -1, value: v! });
      return { p, ok: verifyProposal("views", p) };
    },
    holdsInputs: true,
  },
  {
    name: "signVote + verifyVote",
    inputs: [key.secretKey, seq(32)],
    run: ([sk, id]) => {
      const v = signVote("views", sk!, key.publicKey, {
        type: VoteType.Prevote,
        height: 1,
        round: 0,
        valueId: id!,
      });
      return { v, ok: verifyVote("views", v) };
    },
    holdsInputs: true,
  },
  {
    name: "encodeConsensusMessage",
    inputs: [seq(80), seq(32), seq(32), seq(64)],
    run: ([value, id, pk, sig]) =>
      encodeConsensusMessage({
        kind: "proposal",
        height: 2,
        round: 0,
        validRound: -1,
        value: value!,
        valueId: id!,
        proposer: pk!,
        signature: sig!,
      }),
  },
  {
    name: "decodeConsensusMessage (proposal)",
    inputs: [encodeConsensusMessage(proposal)],
    run: ([b]) => decodeConsensusMessage(b!),
  },
  {
    name: "decodeConsensusMessage (commit)",
    inputs: [encodeConsensusMessage({ kind: "commit", proposal, precommits: [vote, vote] })],
    run: ([b]) => decodeConsensusMessage(b!),
  },
  {
    name: "consensus decodeBlock",
    inputs: [
      encodeBlock({
        height: 4,
        parent: seq(32),
        lastCommit: { precommits: [vote] },
        evidence: [],
        txs: seq(50),
        stateRoot: seq(32, 9),
      }),
    ],
    run: ([b]) => decodeBlock(b!),
  },
  {
    name: "decodeProof",
    inputs: [
      encodeProof({
        depth: 3,
        leaf: seq(48),
        siblings: Uint8Array.from([...seq(32, 5), ...new Uint8Array(32), ...seq(32, 9)]),
      }),
    ],
    run: ([p]) => decodeProof(p!),
  },
  {
    name: "replica decodeEntry",
    inputs: [encodeEntry({ epoch: 3, proposer: seq(32), transfers: transfer })],
    run: ([b]) => decodeEntry(b!),
  },
];

describe("bytes in, bytes out, whatever the view", () => {
  it("the engines (ts and wasm): hashing, merkle root, nonce search on mainnet headers", async () => {
    for (const name of ["ts", "wasm"] as const) {
      const engine = await createEngine(name);
      for (const c of engineCases(engine)) await checkCase(c);
      await checkCase({
        name: `${name} PoW decodeBlock`,
        inputs: [encodePowBlock({ header, stateRoot: seq(32), transfers: [transfer] })],
        run: ([b]) => decodePowBlock(b!, engine),
      });
    }
  });

  it("chain formats, keys, transactions, messages and blocks", async () => {
    for (const c of formatCases) await checkCase(c);
  });

  it("the miner leaves the caller's header alone", async () => {
    const start = encodeHeader({
      version: 1,
      prevHash: seq(32, 2),
      merkleRoot: seq(32, 3),
      time: 1000,
      bits: 0x1f00ffff,
      nonce: 0,
    });
    await checkCase({
      name: "mine (serial, wasm)",
      inputs: [start],
      run: async ([h]) => {
        const r = await mine(h!, { workers: 0, engine: "wasm" });
        expect(
          r.nonce,
          "a solution past the start nonce, so a write into the input would show",
        ).toBeGreaterThan(0);
        return { header: r.header, nonce: r.nonce, hash: r.hash };
      },
    });
  });

  it("the ledger: apply a block, read accounts, prove and verify", async () => {
    for (const engine of ["wasm", "ts"] as const) {
      await checkCase({
        name: `${engine} Ledger.applyBlock`,
        inputs: [transfer, key.publicKey],
        run: async ([t, proposer]) => {
          const ledger = await ledgerWith(engine);
          const result = await ledger.applyBlock([t!], { proposer: proposer! });
          return {
            result,
            account: () => ledger.account(key.publicKey),
            proof: () => ledger.prove(seq(32, 8)),
          };
        },
      });
      await checkCase({
        name: `${engine} Ledger.applyPacked`,
        inputs: [packTransfers([transfer]), key.publicKey],
        run: async ([packed, proposer]) => {
          const ledger = await ledgerWith(engine);
          const result = await ledger.applyPacked(packed!, 1, { proposer: proposer! });
          return { result, accounts: () => records(ledger.exportAccounts()) };
        },
      });
      const ledger = await ledgerWith(engine);
      const root = ledger.root();
      await checkCase({
        name: `${engine} Ledger.account/prove`,
        inputs: [key.publicKey],
        run: ([a]) => ({ account: ledger.account(a!), proof: ledger.prove(a!) }),
      });
      await checkCase({
        name: `${engine} verifyProof`,
        inputs: [root, key.publicKey, ledger.prove(key.publicKey)],
        run: ([r, a, p]) => verifyProof(r!, a!, { balance: 100n, nonce: 0n }, p!),
      });
    }
  });

  it("the key-value store (wasm and ts): put, get, has, delete keep copies", async () => {
    for (const engine of ["wasm", "ts"] as const) {
      await checkCase({
        name: `${engine} KvStore`,
        inputs: [seq(20, 1), seq(300, 2), seq(20, 3)],
        run: async ([k, v, other]) => {
          const store = await createKvStore(engine);
          store.put(k!, v!);
          store.put(other!, k!);
          const got = store.get(k!);
          return {
            got,
            has: store.has(other!),
            later: () => [store.get(seq(20, 1)), store.get(seq(20, 3))],
            deleted: store.delete(other!),
          };
        },
      });
    }
  });

  it("the key-value files of the 2PC log and the PoW block store keep copies", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaindb-views-"));
    let n = 0;
    await checkCase({
      name: "FileTwoPcLog put/get",
      inputs: [seq(40)],
      run: ([v]) => {
        const log = FileTwoPcLog.open(join(dir, `2pc-${n++}.log`));
        log.put("k", v!);
        return { got: () => log.get("k") };
      },
    });
    await checkCase({
      name: "FileKeyStorage put/get",
      inputs: [seq(40)],
      run: ([v]) => {
        const disk = new FileKeyStorage(join(dir, `blocks-${n++}`));
        disk.put("k", v!);
        return { got: () => disk.get("k") };
      },
    });
  });

  it("random lengths and offsets through the hashing and header paths (fast-check)", async () => {
    const ts = await createEngine("ts"),
      wasm = await createEngine("wasm");
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (data) => {
        await checkCase({ name: "ts sha256d", inputs: [data], run: ([d]) => ts.sha256d(d!) });
        await checkCase({ name: "wasm sha256d", inputs: [data], run: ([d]) => wasm.sha256d(d!) });
        if (data.length >= 80)
          await checkCase({
            name: "blockHash",
            inputs: [data.subarray(0, 80)],
            run: ([h]) => blockHash(h!, wasm),
          });
      }),
      { numRuns: 60, seed: 15 },
    );
  });
});
