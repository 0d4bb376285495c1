// Crash safety of the consensus engine: the WAL record and message codecs, torn-tail repair of the
// file log and corruption of fsynced frames (STORE_CORRUPT, never a silent cut), and the restart cases (a proposer re-proposes what it signed, a voter votes the same
// way, a lock survives), replayed from the records the engine asked to persist.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  FileWal,
  Step,
  TendermintEngine,
  ValidatorSet,
  VoteType,
  decodeMessage,
  decodeRecord,
  driveTendermint,
  encodeMessage,
  encodeRecord,
  frameRecord,
  parseWal,
  signProposal,
  signVote,
  valueIdOf,
  type Effect,
  type EngineOptions,
  type Message,
  type WalRecord,
} from "../../bindings/consensus/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";
import { LOG_HEADER_BYTES, encodeFrame } from "../../bindings/store/index.ts";

const CHAIN = "wal-chain";
const keys = [1, 2, 3, 4].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
const key = (i: number) => keys.find((k) => set.indexOf(k.publicKey) === i)!;
const V = new TextEncoder().encode("value v");
const W = new TextEncoder().encode("value w");
const dir = mkdtempSync(join(tmpdir(), "chaindb-wal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let built = 0;
/** Node 0; proposer of round r is (r + offset) mod 4. Each buildValue call gives a new value. */
const options = (offset: number): EngineOptions => ({
  chainId: CHAIN,
  validators: set,
  key: key(0),
  buildValue: () => new TextEncoder().encode(`fresh value ${built++}`),
  proposer: (_h, r) => (r + offset) % 4,
});

/**
 * Runs an engine, answering validity, collecting the records it persists (the "disk"); timers are
 * fired by the test, messages to single peers dropped.
 */
function harness(engine: TendermintEngine, first: Effect[], valid = true) {
  const disk: WalRecord[] = [];
  const sent: Message[] = [];
  const driver = driveTendermint(engine, {
    persist: (record) => void disk.push(decodeRecord(encodeRecord(record))), // through the codec
    broadcast: (message) => void sent.push(message),
    send: () => {},
    setTimer: () => {},
    validate: () => valid,
  });
  // Effects run synchronously: a failure is the test's, at once.
  const ran = () => {
    if (driver.failure !== undefined) throw driver.failure as Error;
  };
  driver.pushEffects(first);
  ran();
  return {
    disk,
    sent,
    feed: (m: Message) => (driver.push({ kind: "message", from: 1, message: m }), ran()),
    fire: (step: Step, round: number) => (
      driver.push({ kind: "timeout", timeout: { step, height: 1, round } }),
      ran()
    ),
  };
}

const proposal = (proposer: number, round: number, value: Uint8Array, validRound = -1) =>
  signProposal(CHAIN, key(proposer).secretKey, key(proposer).publicKey, {
    height: 1,
    round,
    validRound,
    value,
  });
const vote = (i: number, type: VoteType, round: number, value: Uint8Array | null) =>
  signVote(CHAIN, key(i).secretKey, key(i).publicKey, {
    type,
    height: 1,
    round,
    valueId: value && valueIdOf(value),
  });

describe("consensus WAL and restart", () => {
  it("round-trips every message and record kind, and rejects malformed bytes", () => {
    const p = proposal(1, 2, V, 1);
    const v = vote(2, VoteType.Precommit, 0, null);
    const messages: Message[] = [
      p,
      v,
      { kind: "commit", proposal: p, precommits: [v, vote(3, VoteType.Precommit, 0, V)] },
      { kind: "evidence", type: "vote", a: v, b: vote(2, VoteType.Precommit, 0, W) },
    ];
    for (const m of messages) {
      const bytes = encodeMessage(m);
      expect(decodeMessage(bytes)).toEqual(m);
      for (const cut of [1, 7, bytes.length - 1])
        expect(() => decodeMessage(bytes.subarray(0, cut))).toThrow(ChainDbError);
      expect(() => decodeMessage(new Uint8Array([...bytes, 0]))).toThrow(/trailing/);
    }
    expect(() => decodeMessage(new Uint8Array([9]))).toThrow(/tag/);
    const records: WalRecord[] = [
      { type: "message", message: p },
      {
        type: "state",
        height: 7,
        round: 3,
        step: Step.Precommit,
        lockedRound: 2,
        lockedId: valueIdOf(V),
        validRound: -1,
        validId: null,
      },
      { type: "decide", height: 7, certificate: { kind: "commit", proposal: p, precommits: [v] } },
    ];
    for (const r of records) expect(decodeRecord(encodeRecord(r))).toEqual(r);
    expect(() => decodeRecord(new Uint8Array([2, 1, 2]))).toThrow(/does not decode/);
  });

  /** Frames as a log that fsyncs after each record writes them: each claims all before it as durable. */
  const syncedFrames = (records: WalRecord[]) => {
    const frames: Uint8Array[] = [];
    let at = 0;
    for (const r of records) {
      const f = encodeFrame(encodeRecord(r), at);
      frames.push(f);
      at += f.length;
    }
    const whole = new Uint8Array(at);
    at = 0;
    for (const f of frames) (whole.set(f, at), (at += f.length));
    return { frames, whole };
  };
  const three: WalRecord[] = [
    { type: "message", message: proposal(1, 0, V) },
    { type: "message", message: vote(2, VoteType.Prevote, 0, V) },
    { type: "message", message: vote(3, VoteType.Prevote, 0, null) },
  ];

  it("cuts a torn last frame at every cut point, and refuses damage to a frame a later one records as fsynced", () => {
    const { frames, whole } = syncedFrames(three);
    expect(parseWal(whole)).toEqual({ records: three, validBytes: whole.length, tornBytes: 0 });
    const lastStart = whole.length - frames[2]!.length;
    for (let cut = lastStart + 1; cut < whole.length; cut++) {
      const torn = parseWal(whole.subarray(0, cut));
      expect(torn.records).toEqual(three.slice(0, 2));
      expect(torn.validBytes).toBe(lastStart);
      expect(torn.tornBytes).toBe(cut - lastStart);
    }
    const flippedLast = whole.slice();
    flippedLast[whole.length - 3]! ^= 0xff;
    expect(parseWal(flippedLast).records).toHaveLength(2);
    // Every single-bit flip in the first frame (length, crc, syncedEnd, payload) is corruption.
    for (let bit = 0; bit < frames[0]!.length * 8; bit += 7) {
      const flipped = whole.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => parseWal(flipped), `bit ${bit}`).toThrow(
        expect.objectContaining({
          code: "STORE_CORRUPT",
          message: expect.stringMatching(/damaged frame at byte 0/),
        }),
      );
    }
  });

  it("frames written in one unsynced batch have no durable claim: damage in them is a cut tail, not corruption", () => {
    const batch = three.map((r) => frameRecord(r)); // syncedEnd 0: the disk may have reordered them
    const whole = new Uint8Array(batch.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of batch) (whole.set(f, at), (at += f.length));
    whole[10]! ^= 0xff;
    expect(parseWal(whole)).toEqual({ records: [], validBytes: 0, tornBytes: whole.length });
  });

  it("FileWal: one flipped bit in the first frame's length field of an fsynced log is STORE_CORRUPT, not a log cut to 0", () => {
    const path = join(dir, "flip-length.wal");
    const wal = FileWal.open(path);
    for (const r of three) wal.append(r, true);
    wal.close();
    const bytes = new Uint8Array(readFileSync(path));
    for (const bit of [0, 9, 17, 30]) {
      const flipped = bytes.slice();
      flipped[LOG_HEADER_BYTES + (bit >> 3)]! ^= 1 << (bit & 7);
      writeFileSync(path, flipped);
      expect(() => FileWal.open(path), `bit ${bit}`).toThrow(
        expect.objectContaining({ code: "STORE_CORRUPT" }),
      );
      expect(statSync(path).size).toBe(bytes.length); // nothing was cut
    }
  });

  it("FileWal: a 16-byte zero-filled tail (file extended, block never written) opens; the tail is cut and reported", () => {
    const path = join(dir, "zero-tail.wal");
    const wal = FileWal.open(path);
    for (const r of three) wal.append(r, true);
    wal.close();
    const good = statSync(path).size;
    appendFileSync(path, new Uint8Array(16));
    const reopened = FileWal.open(path);
    expect(reopened.recovered.records).toEqual(three);
    expect(reopened.recovered.tornBytes).toBe(16);
    expect(statSync(path).size).toBe(good);
    reopened.close();
  });

  it("FileWal appends, survives a torn write by cutting it off, and keeps appending after it", () => {
    const path = join(dir, "torn.wal");
    const wal = FileWal.open(path);
    wal.append({ type: "message", message: proposal(1, 0, V) }, false);
    wal.append({ type: "message", message: vote(2, VoteType.Prevote, 0, V) }, true);
    wal.close();
    const good = statSync(path).size;
    const half = frameRecord({ type: "message", message: vote(3, VoteType.Prevote, 0, V) });
    appendFileSync(path, half.subarray(0, half.length >> 1)); // the crash interrupted this write
    const reopened = FileWal.open(path);
    expect(reopened.recovered.records).toHaveLength(2);
    expect(reopened.recovered.tornBytes).toBe(half.length >> 1);
    expect(statSync(path).size).toBe(good);
    reopened.append({ type: "message", message: vote(3, VoteType.Prevote, 0, W) }, true);
    reopened.close();
    expect(FileWal.open(path).recovered.records).toHaveLength(3);
    writeFileSync(
      join(dir, "garbage.wal"),
      new Uint8Array([255, 255, 255, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
    );
    expect(() => FileWal.open(join(dir, "garbage.wal"))).toThrow(
      expect.objectContaining({ code: "NOT_CHAINDB" }),
    );
  });

  it("a proposer that crashes after proposing re-proposes the same value after restart", () => {
    const engine = new TendermintEngine(options(0)); // node 0 proposes round 0
    const run = harness(engine, engine.start());
    const first = run.sent.find((m) => m.kind === "proposal")!;
    expect(first).toBeDefined();
    // The crash came right after the proposal was made durable (before its own prevote).
    const upToProposal = run.disk.slice(
      0,
      run.disk.findIndex((r) => r.type === "message" && r.message.kind === "proposal") + 1,
    );
    const { engine: restarted, effects } = TendermintEngine.restore(options(0), upToProposal);
    const again = harness(restarted, effects);
    const resent = again.sent.filter((m) => m.kind === "proposal");
    expect(resent.length).toBeGreaterThan(0);
    for (const m of resent) expect(m).toEqual(first); // same value, same signature
    expect(built).toBeGreaterThan(0);
  });

  it("a voter that crashes after voting votes the same way after restart", () => {
    const engine = new TendermintEngine(options(1));
    const run = harness(engine, engine.start());
    run.feed(proposal(1, 0, V));
    const prevote = run.sent.find((m) => m.kind === "vote" && m.type === VoteType.Prevote);
    expect(prevote?.kind === "vote" && prevote.valueId).toEqual(valueIdOf(V));
    // The durable records end with the prevote; the step change after it was not synced yet.
    const upToVote = run.disk.slice(
      0,
      run.disk.findIndex((r) => r.type === "message" && r.message.kind === "vote") + 1,
    );
    const { engine: restarted, effects } = TendermintEngine.restore(options(1), upToVote);
    // After the restart the application judges V invalid (say its state moved on): the rules now
    // say "prevote nil", the guard must re-send the prevote for V instead.
    const again = harness(restarted, effects, false);
    again.fire(Step.Propose, 0);
    const prevotes = again.sent.filter((m) => m.kind === "vote" && m.type === VoteType.Prevote);
    expect(prevotes.length).toBeGreaterThan(0);
    for (const m of prevotes) expect(m).toEqual(prevote);
  });

  it("a lock survives a restart: still prevotes nil for a fresh different value", () => {
    const engine = new TendermintEngine(options(1));
    const run = harness(engine, engine.start());
    run.feed(proposal(1, 0, V));
    for (const i of [1, 2]) run.feed(vote(i, VoteType.Prevote, 0, V));
    expect(engine.lockedRound).toBe(0);
    const { engine: restarted, effects } = TendermintEngine.restore(options(1), run.disk);
    expect(restarted.lockedRound).toBe(0);
    expect(restarted.lockedValue?.value).toEqual(V);
    const again = harness(restarted, effects);
    for (const i of [1, 2]) again.feed(vote(i, VoteType.Precommit, 0, null));
    again.fire(Step.Precommit, 0);
    expect(restarted.round).toBe(1);
    again.feed(proposal(2, 1, W));
    const last = again.sent.filter((m) => m.kind === "vote" && m.type === VoteType.Prevote).at(-1);
    expect(last?.kind === "vote" && last.round === 1 && last.valueId).toBeNull();
  });

  it("restarts at the height after the last decision", () => {
    const engine = new TendermintEngine(options(1));
    const run = harness(engine, engine.start());
    run.feed(proposal(1, 0, V));
    for (const i of [1, 2]) run.feed(vote(i, VoteType.Prevote, 0, V));
    for (const i of [1, 2]) run.feed(vote(i, VoteType.Precommit, 0, V));
    expect(engine.height).toBe(2);
    const { engine: restarted } = TendermintEngine.restore(options(1), run.disk);
    expect(restarted.height).toBe(2);
    expect(restarted.certificate(1)?.proposal.value).toEqual(V);
  });
});
