/**
 * Two-phase commit: messages, effects, log records and the wire codec shared by the
 * {@link Coordinator} and the {@link Participant} (Gray & Reuter, "Transaction Processing", 1993,
 * §10.3; presumed abort as in Mohan, Lindsay & Obermarck, "Transaction management in the R*
 * distributed database management system", TODS 11(4), 1986).
 *
 * The cores are deterministic: events in, effects out. The runner executes a batch of effects
 * strictly in order and stops at a crash, so "force the record, then send" is expressed as two
 * consecutive effects: a message is never sent before the record in front of it is durable.
 * @module
 */
import { ChainDbError, ErrorCode } from "../../util/index.ts";
import { decodeMessage, encodeMessage, type MessageValue, type NodeId } from "../../net/index.ts";

/** One change at one participant: add `delta` (negative to debit) to `account`'s balance. */
export interface TwoPcOp {
  /** The account's name at that participant (an address in hex for a ledger). */
  readonly account: string;
  /** Signed amount added to the balance. */
  readonly delta: bigint;
}

/** An after-image computed at PREPARE under the locks: replaying it is idempotent. */
export interface TwoPcWrite {
  readonly account: string;
  readonly balance: bigint;
}

/** A protocol message (every one idempotent: duplicates and reordering are harmless). */
export type TwoPcMessage =
  | { type: "prepare"; tx: string; participants: readonly NodeId[]; ops: readonly TwoPcOp[] }
  | { type: "vote"; tx: string; yes: boolean }
  | { type: "commit"; tx: string }
  | { type: "abort"; tx: string }
  | { type: "ack"; tx: string }
  | { type: "inquiry"; tx: string };

/** A named timer of one transaction. */
export type TwoPcTimer = "retry" | "deadline" | "inquire";

/** What a core is told. */
export type TwoPcEvent =
  | { kind: "message"; from: NodeId; message: TwoPcMessage }
  | { kind: "timeout"; timer: TwoPcTimer; tx: string };

/** What a core asks its runner to do, executed in order; a crash stops the batch anywhere. */
export type TwoPcEffect =
  | { kind: "send"; to: NodeId; message: TwoPcMessage }
  /** Write `record` at `key` and fsync before the next effect runs. */
  | { kind: "force"; key: string; record: MessageValue }
  /** Write (or with `record` undefined, delete) without waiting for the disk: lost on a crash. */
  | { kind: "write"; key: string; record: MessageValue | undefined }
  | { kind: "timer"; timer: TwoPcTimer; tx: string; delayMs: number }
  /** Participant: apply the after-images to the resource, durably. */
  | { kind: "apply"; tx: string; writes: readonly TwoPcWrite[] }
  /** Participant: take the locks again for a transaction found prepared at recovery. */
  | { kind: "restore"; tx: string; writes: readonly TwoPcWrite[] }
  /** Participant: release the transaction's locks. */
  | { kind: "release"; tx: string }
  /** The transaction's outcome at this node (observers, clients). */
  | { kind: "outcome"; tx: string; committed: boolean };

/** Most participants one transaction may name (a bound on every per-transaction set). */
export const TWO_PC_PARTICIPANTS_MAX = 64;
/** Most ops one participant gets in one transaction. */
export const TWO_PC_OPS_MAX = 1024;
const TX_ID_LENGTH_MAX = 128;

const bad = (why: string): never => {
  throw new ChainDbError(ErrorCode.BAD_MESSAGE, `2PC message rejected: ${why}`);
};

/** Encodes a message for the wire. */
export function encodeTwoPcMessage(message: TwoPcMessage): Uint8Array {
  return encodeMessage({ ...message, v: 1 } as unknown as MessageValue);
}

/** Decodes and checks a message; anything malformed throws `BAD_MESSAGE`. */
export function decodeTwoPcMessage(bytes: Uint8Array): TwoPcMessage {
  const value = decodeMessage(bytes);
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array)
    return bad("not an object");
  const o = value as Record<string, MessageValue | undefined>;
  if (o.v !== 1) bad("unknown version");
  const tx = o.tx;
  if (typeof tx !== "string" || tx.length === 0 || tx.length > TX_ID_LENGTH_MAX)
    return bad("bad transaction id");
  switch (o.type) {
    case "vote":
      if (typeof o.yes !== "boolean") bad("vote without yes/no");
      return { type: "vote", tx, yes: o.yes as boolean };
    case "commit":
    case "abort":
    case "ack":
    case "inquiry":
      return { type: o.type, tx };
    case "prepare":
      return { type: "prepare", tx, participants: checkParticipants(o.participants), ops: checkOps(o.ops) };
    default:
      // JSON.stringify throws on a bigint: name only what is safe to print.
      return bad(`unknown type ${typeof o.type === "string" ? JSON.stringify(o.type) : typeof o.type}`);
  }
}

function checkParticipants(value: MessageValue | undefined): NodeId[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > TWO_PC_PARTICIPANTS_MAX)
    return bad("bad participant list");
  const out = (value as MessageValue[]).map((p) =>
    typeof p === "string" && p.length > 0 ? p : bad("bad participant id"),
  );
  if (new Set(out).size !== out.length) bad("duplicate participant");
  return out;
}

function checkOps(value: MessageValue | undefined): TwoPcOp[] {
  if (!Array.isArray(value) || value.length > TWO_PC_OPS_MAX) return bad("bad op list");
  return (value as MessageValue[]).map((op) => {
    if (op === null || typeof op !== "object" || Array.isArray(op) || op instanceof Uint8Array)
      return bad("bad op");
    const { account, delta } = op as Record<string, MessageValue | undefined>;
    if (typeof account !== "string" || account.length === 0) return bad("bad op account");
    if (typeof delta !== "bigint") return bad("bad op delta");
    return { account, delta };
  });
}

/** Encodes after-images for a log record. */
export function writesToRecord(writes: readonly TwoPcWrite[]): MessageValue {
  return writes.map((w) => ({ account: w.account, balance: w.balance }));
}

/** Decodes after-images from a log record (the log is ours: a bad record is corruption). */
export function writesFromRecord(value: MessageValue | undefined): TwoPcWrite[] {
  if (!Array.isArray(value)) throw new ChainDbError(ErrorCode.STORE_CORRUPT, "2PC log: bad write list");
  return (value as MessageValue[]).map((w) => {
    const o = w as Record<string, MessageValue>;
    if (typeof o?.account !== "string" || typeof o.balance !== "bigint")
      throw new ChainDbError(ErrorCode.STORE_CORRUPT, "2PC log: bad write");
    return { account: o.account, balance: o.balance };
  });
}
