/**
 * The records and status codes of bindings/engine/records.ts: the packed transfer is the signed
 * encoding's body (from its offsets, as `packTransfers` cuts it), account records carry balance
 * and nonce where the table says, and each `TransferCode` is what the wasm core (assembly/state.ts
 * `ST_*`), the ts state and the parallel executor's plan write for the rule it names.
 */
import { describe, expect, it } from "vitest";
import { keyPairFromSeed, packTransfers, signTransfer } from "../../bindings/chain/index.ts";
import { planBlock, runGroups } from "../../bindings/concurrency/index.ts";
import {
  ACCOUNT_RECORD_SIZE,
  ENGINE_NAMES,
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_FROM,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE,
  RECORD_BALANCE,
  RECORD_NONCE,
  TRANSFER_STATUSES,
  TransferCode,
  accountRecord,
  createEngine,
  packTransfer,
} from "../../bindings/engine/index.ts";

const U64_MAX = (1n << 64n) - 1n;
const address = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const A = address(1);
const B = address(2);
const RICH = address(3); // balance 2^64 − 1: any credit overflows
const PROPOSER = address(9);

/** One transfer per rule, each against the genesis state (nonces 0), with the code it must get. */
const CASES: [string, Uint8Array, Uint8Array, bigint, bigint, bigint, number][] = [
  ["applied", A, B, 10n, 1n, 0n, TransferCode.ok],
  ["to itself", A, A, 1n, 0n, 0n, TransferCode.SELF_TRANSFER],
  ["amount + fee past 2^64", A, B, U64_MAX, 1n, 0n, TransferCode.OVERFLOW],
  ["a stale nonce", B, A, 1n, 0n, 5n, TransferCode.BAD_NONCE],
  ["more than the balance", B, A, 101n, 0n, 0n, TransferCode.INSUFFICIENT_FUNDS],
  ["a recipient past 2^64", B, RICH, 1n, 0n, 0n, TransferCode.OVERFLOW],
];

function genesis(): Uint8Array {
  const records = [accountRecord(A, 1000n, 0n), accountRecord(B, 100n, 0n), accountRecord(RICH, U64_MAX, 0n)];
  const out = new Uint8Array(records.length * ACCOUNT_RECORD_SIZE);
  records.forEach((r, i) => out.set(r, i * ACCOUNT_RECORD_SIZE));
  return out;
}

/** Each case in a block of its own (so each meets the genesis state): its status code. */
function codesOn(apply: (packed: Uint8Array) => number): number[] {
  const codes: number[] = [];
  for (const [, from, to, amount, fee, nonce] of CASES) {
    const packed = new Uint8Array(PACKED_TRANSFER_SIZE);
    packTransfer(packed, 0, from, to, amount, fee, nonce);
    codes.push(apply(packed));
  }
  return codes;
}

const expected = CASES.map((c) => c[6]);

describe("records", () => {
  it("name each status code once, in code order", () => {
    expect(TRANSFER_STATUSES.map((name) => TransferCode[name])).toEqual([0, 1, 2, 3, 4]);
    expect(Object.keys(TransferCode).sort()).toEqual([...TRANSFER_STATUSES].sort());
  });

  it("pack a transfer exactly as the signed encoding's body", () => {
    const key = keyPairFromSeed(new Uint8Array(32).fill(7));
    const fields = { chainId: 5, to: B, amount: 0x0102030405060708n, fee: 77n, nonce: U64_MAX - 1n };
    const packed = new Uint8Array(2 * PACKED_TRANSFER_SIZE);
    packTransfer(packed, 1, key.publicKey, B, fields.amount, fields.fee, fields.nonce);
    const fromEncoding = packTransfers([signTransfer(key, fields)]);
    expect(packed.subarray(PACKED_TRANSFER_SIZE)).toEqual(fromEncoding);
    const dv = new DataView(packed.buffer, PACKED_TRANSFER_SIZE);
    expect(packed.subarray(PACKED_TRANSFER_SIZE + PACKED_FROM, PACKED_TRANSFER_SIZE + 32)).toEqual(
      key.publicKey,
    );
    expect(packed.subarray(PACKED_TRANSFER_SIZE + PACKED_TO, PACKED_TRANSFER_SIZE + PACKED_TO + 32)).toEqual(
      B,
    );
    expect([PACKED_AMOUNT, PACKED_FEE, PACKED_NONCE].map((o) => dv.getBigUint64(o, true))).toEqual([
      fields.amount,
      fields.fee,
      fields.nonce,
    ]);
  });

  it("hold an account's balance and nonce at their offsets", () => {
    const r = accountRecord(A, 0x1122334455667788n, 3n);
    const dv = new DataView(r.buffer);
    expect([r.length, dv.getBigUint64(RECORD_BALANCE, true), dv.getBigUint64(RECORD_NONCE, true)]).toEqual([
      ACCOUNT_RECORD_SIZE,
      0x1122334455667788n,
      3n,
    ]);
  });
});

describe.each(ENGINE_NAMES)("the %s ledger state", (name) => {
  it("writes the TransferCode of each rule", async () => {
    const state = await (await createEngine(name)).createLedgerState();
    state.load(genesis());
    const codes = codesOn((packed) => {
      state.begin();
      const code = state.apply(packed, 1, PROPOSER)[0]!;
      state.abort();
      return code;
    });
    expect(codes).toEqual(expected);
  });
});

describe("the parallel executor's plan", () => {
  it("writes the TransferCode of each rule", async () => {
    const state = await (await createEngine("ts")).createLedgerState();
    state.load(genesis());
    const codes = codesOn((packed) => {
      const plan = planBlock(packed, 1, PROPOSER, (a) => state.account(a), 1);
      expect(plan).toBeDefined();
      runGroups(plan!, 0);
      return plan!.status[0]!;
    });
    expect(codes).toEqual(expected);
  });
});
