// The 2PC cores as state machines: force-before-send ordering, presumed abort, recovery from the
// log, idempotent duplicates, and bad input (malformed frames, non-members, unknown transaction
// ids) rejected with typed errors and state untouched.
import { describe, expect, it } from "vitest";
import { SimStorage, decodeMessage, encodeMessage, type MessageValue } from "../../bindings/net/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";
import {
  Coordinator,
  LogBank,
  Participant,
  decodeTwoPcMessage,
  encodeTwoPcMessage,
  type TwoPcEffect,
  type TwoPcMessage,
} from "../../bindings/txn/two-phase/index.ts";

const msg = (from: string, message: TwoPcMessage) => ({ kind: "message" as const, from, message });
const kinds = (effects: TwoPcEffect[]) =>
  effects.map((e) => (e.kind === "send" ? `send:${e.to}:${e.message.type}` : e.kind));
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as ChainDbError).code;
  }
  return "no error";
};

function coordinator(records = new Map<string, MessageValue>()) {
  const c = new Coordinator("c");
  c.recover(records);
  return c;
}

async function participant(id = "p0") {
  const storage = new SimStorage();
  const bank = new LogBank(storage);
  await bank.open(new Map([["a", 100n]]));
  const p = new Participant(id, bank, { coordinators: ["c"] });
  p.recover(new Map());
  return { p, bank, storage };
}

describe("2PC coordinator", () => {
  it("forces COMMIT before sending it, then forgets after every ack", () => {
    const c = coordinator();
    const { tx, effects } = c.begin(
      new Map([
        ["p0", []],
        ["p1", []],
      ]),
    );
    expect(kinds(effects)).toEqual(["send:p0:prepare", "send:p1:prepare", "timer", "timer"]);
    expect(c.handle(msg("p0", { type: "vote", tx, yes: true }))).toEqual([]);
    const decided = c.handle(msg("p1", { type: "vote", tx, yes: true }));
    expect(kinds(decided)).toEqual(["force", "outcome", "send:p0:commit", "send:p1:commit"]);
    expect(c.committing).toEqual([tx]);
    expect(c.handle(msg("p1", { type: "vote", tx, yes: true }))).toEqual([]); // duplicate vote
    c.handle(msg("p0", { type: "ack", tx }));
    c.handle(msg("p0", { type: "ack", tx })); // duplicate ack
    expect(c.inFlight).toBe(1);
    expect(kinds(c.handle(msg("p1", { type: "ack", tx })))).toEqual(["write"]);
    expect(c.inFlight).toBe(0);
  });

  it("presumed abort: a NO aborts without a log write; unknown transactions are answered abort", () => {
    const c = coordinator();
    const { tx } = c.begin(
      new Map([
        ["p0", []],
        ["p1", []],
      ]),
    );
    expect(kinds(c.handle(msg("p0", { type: "vote", tx, yes: false })))).toEqual([
      "outcome",
      "send:p0:abort",
      "send:p1:abort",
    ]);
    expect(kinds(c.handle(msg("p1", { type: "vote", tx, yes: true })))).toEqual(["send:p1:abort"]);
    expect(kinds(c.handle(msg("p1", { type: "inquiry", tx })))).toEqual(["send:p1:abort"]);
  });

  it("aborts at the vote deadline and re-drives logged commits after a restart (new epoch)", () => {
    const c = coordinator();
    const { tx } = c.begin(new Map([["p0", []]]));
    expect(kinds(c.handle({ kind: "timeout", timer: "deadline", tx }))).toEqual(["outcome", "send:p0:abort"]);
    const log = new Map<string, MessageValue>([
      ["2pc/c/epoch", 3],
      ["2pc/c/commit/c.2.7", { participants: ["p0", "p1"] }],
    ]);
    const again = new Coordinator("c");
    const effects = again.recover(log);
    expect(effects[0]).toEqual({ kind: "force", key: "2pc/c/epoch", record: 4 });
    expect(kinds(effects.slice(1))).toEqual(["send:p0:commit", "send:p1:commit", "timer"]);
    expect(kinds(again.handle(msg("p0", { type: "inquiry", tx: "c.2.7" })))).toEqual(["send:p0:commit"]);
    expect(again.begin(new Map([["p0", []]])).tx).toBe("c.4.1");
  });

  it("rejects non-members and ids it never issued, state untouched", () => {
    const c = coordinator();
    const { tx } = c.begin(new Map([["p0", []]]));
    expect(code(() => c.handle(msg("mallory", { type: "vote", tx, yes: true })))).toBe("PEER_UNKNOWN");
    expect(code(() => c.handle(msg("p0", { type: "vote", tx: "c.1.99", yes: true })))).toBe("BAD_MESSAGE");
    expect(code(() => c.handle(msg("p0", { type: "ack", tx: "other.1.1" })))).toBe("BAD_MESSAGE");
    expect(c.inFlight).toBe(1);
    expect(kinds(c.handle(msg("p0", { type: "vote", tx, yes: true })))).toContain("force");
  });
});

describe("2PC participant", () => {
  it("locks and forces PREPARED before voting yes; holds the locks until the decision", async () => {
    const { p, bank } = await participant();
    const prepare: TwoPcMessage = {
      type: "prepare",
      tx: "c.1.1",
      participants: ["p0", "p1"],
      ops: [{ account: "a", delta: -30n }],
    };
    const effects = p.handle(msg("c", prepare));
    expect(kinds(effects)).toEqual(["force", "send:c:vote", "timer"]);
    expect(bank.locksHeld).toBe(1);
    expect(kinds(p.handle(msg("c", prepare)))).toEqual(["send:c:vote"]); // duplicate: same vote
    // A second transaction on the same account votes NO at once (no-wait locking) and aborts alone.
    const other = p.handle(msg("c", { ...prepare, tx: "c.1.2" }));
    expect(kinds(other)).toEqual(["force", "outcome", "send:c:vote"]);
    expect(other[2]).toMatchObject({ message: { yes: false } });
    expect(kinds(p.handle(msg("c", { type: "commit", tx: "c.1.1" })))).toEqual([
      "apply",
      "force",
      "release",
      "outcome",
      "send:c:ack",
    ]);
    expect(kinds(p.handle(msg("c", { type: "commit", tx: "c.1.1" })))).toEqual(["send:c:ack"]); // idempotent
  });

  it("votes NO on an overdraft; in doubt it asks coordinator and peers, never deciding alone", async () => {
    const { p } = await participant();
    const no = p.handle(
      msg("c", { type: "prepare", tx: "c.1.1", participants: ["p0"], ops: [{ account: "a", delta: -101n }] }),
    );
    expect(no.at(-1)).toMatchObject({ kind: "send", message: { type: "vote", yes: false } });
    p.handle(
      msg("c", {
        type: "prepare",
        tx: "c.1.2",
        participants: ["p0", "p1", "p2"],
        ops: [{ account: "a", delta: -1n }],
      }),
    );
    for (let i = 0; i < 5; i++) {
      expect(kinds(p.handle({ kind: "timeout", timer: "inquire", tx: "c.1.2" }))).toEqual([
        "send:c:inquiry",
        "send:p1:inquiry",
        "send:p2:inquiry",
        "timer",
      ]);
    }
    expect(p.inDoubt).toEqual(["c.1.2"]);
    // A peer that knows the outcome may tell it (cooperative termination).
    expect(kinds(p.handle(msg("p1", { type: "abort", tx: "c.1.2" })))).toEqual([
      "write",
      "release",
      "outcome",
    ]);
    expect(p.outcome("c.1.2")).toBe(false);
    expect(kinds(p.handle(msg("p2", { type: "inquiry", tx: "c.1.2" })))).toEqual(["send:p2:abort"]);
  });

  it("recovers: re-takes the locks of prepared transactions and asks about them", async () => {
    const { bank } = await participant();
    const log = new Map<string, MessageValue>([
      [
        "2pc/p/c.1.1",
        {
          state: "prepared",
          coordinator: "c",
          participants: ["p0", "p1"],
          writes: [{ account: "a", balance: 70n }],
        },
      ],
      ["2pc/p/c.1.2", { state: "committed", participants: ["p0", "p1"] }],
    ]);
    const p = new Participant("p0", bank, { coordinators: ["c"] });
    expect(kinds(p.recover(log))).toEqual(["restore", "timer"]);
    expect(p.inDoubt).toEqual(["c.1.1"]);
    expect(p.outcome("c.1.2")).toBe(true);
    expect(code(() => p.handle(msg("c", { type: "abort", tx: "c.1.2" })))).toBe("BAD_MESSAGE");
  });

  it("rejects non-members and foreign decisions, state untouched", async () => {
    const { p, bank } = await participant();
    const prepare: TwoPcMessage = {
      type: "prepare",
      tx: "c.1.1",
      participants: ["p0"],
      ops: [{ account: "a", delta: 5n }],
    };
    expect(code(() => p.handle(msg("mallory", prepare)))).toBe("PEER_UNKNOWN");
    expect(code(() => p.handle(msg("c", { ...prepare, participants: ["p1"] })))).toBe("BAD_MESSAGE");
    expect(bank.locksHeld).toBe(0);
    p.handle(msg("c", prepare));
    expect(code(() => p.handle(msg("mallory", { type: "commit", tx: "c.1.1" })))).toBe("PEER_UNKNOWN");
    expect(p.inDoubt).toEqual(["c.1.1"]);
    expect(bank.balance("a")).toBe(100n);
  });
});

describe("2PC wire", () => {
  it("round-trips every message and rejects malformed frames with BAD_MESSAGE", () => {
    const all: TwoPcMessage[] = [
      { type: "prepare", tx: "c.1.1", participants: ["p0", "p1"], ops: [{ account: "a", delta: -5n }] },
      { type: "vote", tx: "c.1.1", yes: true },
      { type: "commit", tx: "c.1.1" },
      { type: "abort", tx: "c.1.1" },
      { type: "ack", tx: "c.1.1" },
      { type: "inquiry", tx: "c.1.1" },
    ];
    for (const m of all) expect(decodeTwoPcMessage(encodeTwoPcMessage(m))).toEqual(m);
    const bad: MessageValue[] = [
      null,
      [],
      { v: 2, type: "ack", tx: "c.1.1" },
      { v: 1, type: "ack", tx: "" },
      { v: 1, type: "ack", tx: "x".repeat(200) },
      { v: 1, type: "bogus", tx: "c.1.1" },
      { v: 1, type: "vote", tx: "c.1.1" },
      { v: 1, type: "prepare", tx: "c.1.1", participants: [], ops: [] },
      { v: 1, type: "prepare", tx: "c.1.1", participants: ["p0", "p0"], ops: [] },
      { v: 1, type: "prepare", tx: "c.1.1", participants: ["p0"], ops: [{ account: "a", delta: 5 }] },
    ];
    for (const b of bad) expect(code(() => decodeTwoPcMessage(encodeMessage(b)))).toBe("BAD_MESSAGE");
    expect(code(() => decodeTwoPcMessage(new Uint8Array([0xff, 0x00])))).toBe("BAD_MESSAGE");
    expect(decodeMessage(encodeTwoPcMessage(all[1]!))).toMatchObject({ v: 1 });
  });
});
