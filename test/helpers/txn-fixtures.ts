/** Alice, Bob and Carol: the seed's bank accounts ($20, $5, $0: $25 in all) on a fresh ledger. */
import { Ledger } from "../../bindings/chain/index.ts";
import type { EngineName } from "../../bindings/engine/index.ts";

/** Chain id of the transaction tests. */
export const TXN_CHAIN = 44;

const address = (byte: number) => new Uint8Array(32).fill(byte);
/** Alice's address. */
export const ALICE = address(0xa1);
/** Bob's address. */
export const BOB = address(0xb0);
/** Carol's address. */
export const CAROL = address(0xca);

/** The genesis: Alice $20, Bob $5, Carol $0. */
export const BANK_GENESIS = [
  { address: ALICE, balance: 20n },
  { address: BOB, balance: 5n },
  { address: CAROL, balance: 0n },
];

/** Opens the bank ledger (in memory without `dir`). */
export function openBank(dir?: string, engine: EngineName = "wasm"): Promise<Ledger> {
  return Ledger.open({ dir, engine, chainId: TXN_CHAIN, genesis: BANK_GENESIS });
}

/** Alice's, Bob's and Carol's balances as numbers. */
export function balances(ledger: Ledger): [number, number, number] {
  return [ALICE, BOB, CAROL].map((a) => Number(ledger.account(a)?.balance ?? 0n)) as [number, number, number];
}

/** Group-commit tests: clients, each with a pair of accounts (A starts with GROUP_START, B empty). */
export const GROUP_CLIENTS = 64;
export const GROUP_START = 1_000_000n;

/** Client `c`'s accounts A and B. */
export function groupPair(c: number): [Uint8Array, Uint8Array] {
  const address = (i: number) => {
    const a = new Uint8Array(32).fill(0x5a);
    new DataView(a.buffer).setUint32(0, i);
    return a;
  };
  return [address(2 * c), address(2 * c + 1)];
}

export function groupGenesis(): { address: Uint8Array; balance: bigint }[] {
  return Array.from({ length: GROUP_CLIENTS }, (_, c) => ({
    address: groupPair(c)[0],
    balance: GROUP_START,
  }));
}
