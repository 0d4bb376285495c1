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
