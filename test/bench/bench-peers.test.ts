// The peer ledgers of `bench state` (bench/peers.ts) apply the same rules as chaindb's engines, so
// their rows measure the same work: on seeded random blocks (bad nonces, overdrafts, self
// transfers, new recipients, the proposer as sender or recipient, zero fees) every peer's
// statuses and resulting accounts equal the ts engine's.
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ACCOUNT_RECORD_SIZE as REC,
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
  RECORD_BALANCE,
  createLedgerState,
} from "../../bindings/engine/index.ts";
import { LEDGER_PEERS, lmdbUnavailable, openLedgerPeer } from "../../bench/peers.ts";

const ACCOUNTS = 40;

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
}

function address(i: number): Uint8Array {
  const a = new Uint8Array(32);
  new DataView(a.buffer).setUint32(0, i * 2654435761, true);
  a[31] = i & 0xff;
  return a;
}

function genesisRecords(): Uint8Array {
  const out = new Uint8Array(ACCOUNTS * REC);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < ACCOUNTS; i++) {
    out.set(address(i), i * REC);
    dv.setBigUint64(i * REC + RECORD_BALANCE, BigInt(i % 5 === 0 ? 3 : 1000), true);
  }
  return out;
}

/** A block over ACCOUNTS + 10 addresses (the last 10 start absent); nonces mostly right. */
function randomBlock(r: () => number, nonces: number[], count: number): Uint8Array {
  const block = new Uint8Array(count * TX);
  const dv = new DataView(block.buffer);
  for (let i = 0; i < count; i++) {
    const from = Math.floor(r() * (ACCOUNTS + 10));
    const to = r() < 0.05 ? from : Math.floor(r() * (ACCOUNTS + 10));
    block.set(address(from), i * TX);
    block.set(address(to), i * TX + PACKED_TO);
    dv.setBigUint64(i * TX + PACKED_AMOUNT, BigInt(Math.floor(r() * 300)), true);
    dv.setBigUint64(i * TX + PACKED_FEE, BigInt(r() < 0.2 ? 0 : Math.floor(r() * 5)), true);
    const nonce = r() < 0.1 ? nonces[from]! + 1 : nonces[from]!;
    dv.setBigUint64(i * TX + PACKED_NONCE, BigInt(nonce), true);
    nonces[from]!++; // may drift from the truth after a rejection: more BAD_NONCE cases
  }
  return block;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.each(LEDGER_PEERS)("peer ledger %s", (id) => {
  it("gives the ts engine's statuses and accounts on random blocks", async () => {
    if (id === "lmdb")
      expect(await lmdbUnavailable(), "lmdb is a devDependency and must load here").toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "chaindb-bench-peer-"));
    dirs.push(dir);
    for (const seed of [1, 2, 3]) {
      const reference = await createLedgerState("ts");
      reference.load(genesisRecords());
      const peer = await openLedgerPeer(id, genesisRecords(), join(dir, String(seed)));
      const r = rng(seed);
      const nonces = new Array<number>(ACCOUNTS + 10).fill(0);
      const seen = new Set<number>();
      for (let b = 0; b < 20; b++) {
        const proposer = address(Math.floor(r() * (ACCOUNTS + 10)));
        const block = randomBlock(r, nonces, 50);
        reference.begin();
        const want = reference.apply(block, 50, proposer);
        reference.commit();
        const got = peer.applyBlock(block, 50, proposer);
        expect([...got], `seed ${seed} block ${b}`).toEqual([...want]);
        want.forEach((s) => seen.add(s));
      }
      for (let i = 0; i < ACCOUNTS + 10; i++)
        expect(peer.account(address(i)), `seed ${seed} account ${i}`).toEqual(reference.account(address(i)));
      await peer.close();
      // ok, BAD_NONCE, INSUFFICIENT_FUNDS and SELF_TRANSFER all occur, so each rule was compared
      // (OVERFLOW needs values near 2^64, where the typed peers differ by design: see peers.ts).
      for (const status of [0, 1, 2, 4])
        expect(seen.has(status), `status ${status} never occurred`).toBe(true);
    }
  });
});
