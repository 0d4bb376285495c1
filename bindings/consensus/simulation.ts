/**
 * A seeded simulation of a Tendermint validator set on the net layer's SimNetwork (virtual time,
 * seeded loss, duplication, reordering, delays, partitions, crashes with simulated disks), in the
 * manner of TigerBeetle's VOPR: one seed fixes the validator keys, the byzantine validators and
 * their strategies, the fault schedule and every network decision, so any failure replays exactly.
 *
 * A run has a fault phase (lossy links, partitions, crashes and restarts of correct validators,
 * byzantine validators holding less than 1/3 of the power) and then a healed phase (clean links,
 * everyone up; byzantine validators keep misbehaving). Blocks carry the previous height's commit
 * certificate and pending evidence; validity checks both. With proof of stake, evidence in a
 * committed block slashes and jails its offender on every node, and the set shrinks two heights
 * later. Invariants checked:
 * - agreement: no two correct validators commit different blocks at one height (checked at once);
 * - validity: every block a correct validator commits is valid for its chain;
 * - evidence: every equivocation a correct validator received both halves of (within the engine's
 *   height window, in one incarnation) is turned into evidence by that validator; and every
 *   equivocation signed after the heal, while all correct validators could admit it, becomes
 *   evidence at some correct validator within a second;
 * - accusation: no evidence held by a correct validator names a correct validator;
 * - liveness: after the heal, every correct validator commits `heights` more blocks within
 *   `livenessMs` of simulated time;
 * - halt: no message, timeout or tick makes a correct validator throw (an assertion reached from
 *   the network would stop a real node for good);
 * - memory: at every tick, each correct engine's buffers are within their documented bounds.
 * With `hostile`, one more peer joins (see hostile.ts): it holds the byzantine validators' keys
 * and an outsider's, and sends every few ms a message drawn from its attacks — old and far-future
 * heights, floods of the next heights, huge rounds, bad and relabelled signatures, foreign and
 * stale evidence, forged certificates, replays and junk — through the fault phase and after the
 * heal; the same invariants must hold.
 * @module
 */
import { createHash } from "node:crypto";
import { ed25519Verify, keyPairFromSeed, type KeyPair } from "../chain/index.ts";
import { Random, SimNetwork, type SimNode, type TraceRecorder } from "../net/index.ts";
import { ChainDbError, ErrorCode, aint, assert, toHex } from "../util/index.ts";
import { honest, type Behavior } from "./behavior.ts";
import { BYZANTINE_STRATEGIES, byzantine, type ByzantineStrategy } from "./byzantine.ts";
import { cachingVerifier, decodeMessage, encodeMessage, valueIdOf, type Verifier } from "./codec.ts";
import { accused, evidenceKey, verifyEvidence } from "./evidence.ts";
import { EVIDENCE_MAX } from "./evidence-pool.ts";
import { FUTURE_HEIGHTS, ROUND_WINDOW, TendermintEngine, type EngineOptions } from "./tendermint.ts";
import { FUTURE_CERTIFICATE_PEERS_MAX } from "./future.ts";
import { HostilePeer } from "./hostile.ts";
import { PROPOSALS_PER_ROUND_MAX, VOTES_PER_VALIDATOR_MAX } from "./votes.ts";
import type {
  CommitCertificate,
  ConsensusEvent,
  Effect,
  Evidence,
  Proposal,
  Vote,
  WalRecord,
} from "./types.ts";
import { driveTendermint, type TendermintWorld } from "./driver.ts";
import type { ProtocolDriver } from "../protocol/index.ts";
import {
  blockCommitOf,
  decodeBlock,
  encodeBlock,
  verifyCommit,
  type Block,
  type BlockCommit,
} from "./block.ts";
import { ValidatorSet } from "./validators.ts";
import { DelegateElection, StakingState } from "../selection/index.ts";
import { decodeRecord, encodeRecord } from "./wal.ts";
import { ConsensusTracer } from "./trace.ts";

/** Options of {@link simulateConsensus}. */
export interface SimulationOptions {
  readonly seed: number;
  /** Number of validators (equal power). */
  readonly validators: number;
  /** Number of byzantine validators; their power must stay below 1/3. */
  readonly byzantine: number;
  /** Blocks every correct validator must commit after the heal; default 3. */
  readonly heights?: number;
  /** Length of the fault phase in simulated ms; default drawn from the seed (2–6 s). */
  readonly faultMs?: number;
  /** Bound on the time from the heal to the last required commit; default 120 s. */
  readonly livenessMs?: number;
  /** Who validates: equal powers ("tendermint", default), stake-weighted ("pos"), elected delegates ("dpos"). */
  readonly selection?: "tendermint" | "pos" | "dpos";
  /** Wait between a commit and the next height (CometBFT's timeout_commit); default 200 ms. */
  readonly newHeightDelayMs?: number;
  /** Gossip tick period; default 200 ms. */
  readonly tickMs?: number;
  /**
   * Checker self-test: treat byzantine validators as correct when checking invariants, so their
   * misbehaviour must show up as a violation. Never set in a real run.
   */
  readonly mislabelByzantine?: boolean;
  /** Checker self-test: engines do not relay votes, so double votes go unseen. Never set in a real run. */
  readonly relayVotes?: boolean;
  /** Adds a hostile peer (hostile.ts) that attacks through the whole run. */
  readonly hostile?: boolean;
  /** Simulated ms between two attacks of the hostile peer; default 10. */
  readonly hostileIntervalMs?: number;
  /**
   * Checker self-tests with a hostile peer; never set in a real run. "stale-cache": the signature
   * cache keyed without the public key (issue 14's bug), so relabelled signatures are believed.
   * "old-evidence": evidence of any age judged against a set lookup that, like the selection
   * layer's, asserts for heights it no longer keeps. "memory-bound": the future buffer's bound
   * scaled down to a fortieth (the hostile peer's floods must then show up as a violation).
   */
  readonly selfTest?: "stale-cache" | "old-evidence" | "memory-bound";
  /** Records the run (network, steps, violation) for `renderTraceHtml`; off when absent. */
  readonly trace?: TraceRecorder;
}

/** The invariants a run checks. */
export type Invariant = "agreement" | "validity" | "evidence" | "accusation" | "liveness" | "halt" | "memory";

/** What a run found. */
export interface SimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation?: { readonly invariant: Invariant; readonly detail: string };
  /** Lowest and highest committed height among correct validators at the end. */
  readonly minHeight: number;
  readonly maxHeight: number;
  readonly simTimeMs: number;
  readonly messages: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly strategies: readonly ByzantineStrategy[];
  /** Distinct equivocations byzantine validators signed and sent. */
  readonly equivocations: number;
  /** Of those, how many some correct validator holds evidence for. */
  readonly equivocationsWithEvidence: number;
  /** Distinct evidence included in blocks committed by correct validators. */
  readonly evidenceInBlocks: number;
  /** Proof of stake: validators slashed and jailed from the evidence, and the set size after. */
  readonly slashed: number;
  readonly validatorsAfterSlashing: number;
  /** Messages the hostile peer sent (0 without one). */
  readonly hostileMessages: number;
  /** Largest buffer sizes seen on a correct engine at a tick. */
  readonly peakFutureMessages: number;
  readonly peakRounds: number;
}

/** The one-line command that replays a seed. */
export function replayCommand(o: SimulationOptions): string {
  if (o.hostile)
    return `CHAINDB_SEEDS=${o.seed}..${o.seed} npx vitest run test/consensus/consensus-hostile-simulation.test.ts`;
  const selection = o.selection && o.selection !== "tendermint" ? ` --consensus ${o.selection}` : "";
  return `npx chaindb simulate consensus --validators ${o.validators} --byzantine ${o.byzantine}${selection} --seeds ${o.seed}..${o.seed}`;
}

const CHAIN_ID = "chaindb-sim";
const VALID = 1;
const EVENTS_MAX = 3_000_000;

class Violation extends Error {
  constructor(
    readonly invariant: Invariant,
    detail: string,
  ) {
    super(detail);
  }
}

/** A block of the simulation: a {@link Block} whose transactions are a validity flag and a salt. */
function makeBlock(
  height: number,
  parent: Uint8Array,
  valid: number,
  salt: number,
  lastCommit: BlockCommit | null,
  evidence: readonly Evidence[],
): Uint8Array {
  const txs = new Uint8Array(5);
  txs[0] = valid;
  new DataView(txs.buffer).setUint32(1, salt >>> 0, true);
  return encodeBlock({ height, parent, lastCommit, evidence, txs, stateRoot: new Uint8Array(32) });
}

function lastCommitOf(certificate: CommitCertificate | undefined): BlockCommit | null {
  return certificate === undefined ? null : blockCommitOf(certificate);
}

/** The same block with another salt (or another validity flag). */
function remake(value: Uint8Array, valid: number | null, salt: number): Uint8Array {
  const b = decodeBlock(value);
  return makeBlock(b.height, b.parent, valid ?? b.txs[0]!, salt, b.lastCommit, b.evidence);
}

/**
 * Validity of a simulated block at `height` on a chain whose last block is `parent`: it names the
 * height and parent, carries a valid commit certificate for the parent and only verifiable
 * evidence, and its flag says valid (byzantine proposers clear it).
 */
function blockValid(
  setAt: (height: number) => ValidatorSet,
  verifier: Verifier,
  value: Uint8Array,
  height: number,
  parent: Uint8Array,
): boolean {
  let b: Block;
  try {
    b = decodeBlock(value);
  } catch (error) {
    if (error instanceof ChainDbError) return false;
    throw error;
  }
  if (b.height !== height || toHex(b.parent) !== toHex(parent) || b.txs.length !== 5 || b.txs[0] !== VALID)
    return false;
  if (
    height === 1
      ? b.lastCommit !== null
      : b.lastCommit === null ||
        !verifyCommit(CHAIN_ID, setAt(height - 1), b.lastCommit, height - 1, parent, verifier)
  )
    return false;
  // Evidence of heights below the block's only, as ConsensusNode: their sets are final (a set
  // of a later height can still change, and the verdict with it).
  return b.evidence.every(
    (e) => e.a.height >= 1 && e.a.height < height && verifyEvidence(CHAIN_ID, setAt(e.a.height), e, verifier),
  );
}

/** One validator process: the engine, its WAL on the node's simulated disk, its timers. */
class Validator {
  engine!: TendermintEngine;
  /** Runs the engine's effects (bindings/protocol/), synchronously: the simulation is one thread. */
  private driver!: ProtocolDriver<ConsensusEvent, Effect>;
  /** Committed block ids by height (the node's chain; kept across crashes like its block store). */
  readonly chain = new Map<number, Uint8Array>();
  /** Evidence keys already in this node's chain (not proposed again). */
  readonly included = new Set<string>();
  /** Equivocation halves received in this incarnation: detector key → value ids. */
  received = new Map<string, Set<string>>();
  private walSeq = 0;
  /** WAL keys of records that the next decision makes obsolete. */
  private compactable: string[] = [];

  constructor(
    readonly index: number,
    readonly key: KeyPair,
    readonly correct: boolean,
    readonly behavior: Behavior,
    readonly node: SimNode,
    private readonly world: World,
  ) {}

  /** Starts (or restarts) from the disk. */
  boot(): void {
    const storage = this.node.storage;
    const keys = storage.keys("wal/");
    const records: WalRecord[] = keys.map((k) => decodeRecord(storage.get(k)!));
    this.walSeq = keys.length === 0 ? 0 : Number(keys[keys.length - 1]!.slice(4)) + 1;
    this.compactable = keys.filter((_, i) => records[i]!.type !== "decide");
    this.received = new Map();
    const options = this.world.engineOptions(this);
    let effects: Effect[];
    if (records.length === 0) {
      this.engine = new TendermintEngine(options);
      effects = this.engine.start();
    } else {
      ({ engine: this.engine, effects } = TendermintEngine.restore(options, records));
    }
    this.driver = driveTendermint(this.engine, this.effectsWorld(), {
      beforeEffect: (e) => (this.world.tracer?.effect(this.index, e), true),
    });
    this.node.transport.setHandler({ onMessage: (from, payload) => this.onMessage(from, payload) });
    this.tick();
    this.driver.pushEffects(effects);
    if (this.driver.failure !== undefined) throw this.driver.failure as Error;
  }

  private tick(): void {
    this.node.clock.setTimer(this.world.tickMs, () => {
      this.guard(() => this.driver.push({ kind: "tick" }));
      if (this.correct) this.world.checkMemory(this);
      this.tick();
    });
  }

  /**
   * Runs `fn` (which feeds the driver; effects run synchronously here); anything a correct
   * validator throws (other than a found violation) is a halt.
   */
  guard(fn: () => void): void {
    try {
      fn();
      if (this.driver.failure !== undefined) throw this.driver.failure as Error;
    } catch (error) {
      if (error instanceof Violation || !this.correct) throw error;
      throw new Violation(
        "halt",
        `correct validator n${this.index} stopped at height ${this.engine.height}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private onMessage(from: string, payload: Uint8Array): void {
    let message;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      if (error instanceof ChainDbError) return; // malformed input is dropped
      throw error;
    }
    this.guard(() => {
      if (this.correct && (message.kind === "proposal" || message.kind === "vote"))
        this.noteReceived(message);
      this.driver.push({ kind: "message", from: Number(from.slice(1)), message });
    });
  }

  /** Records byzantine messages within the engine's window, to check that equivocations become evidence. */
  private noteReceived(m: Proposal | Vote): void {
    const signer = m.kind === "vote" ? m.validator : m.proposer;
    const index = this.world.set.indexOf(signer);
    if (index < 0 || this.world.validators[index]!.correct) return;
    if (this.engine.admissible(m) < 0) return; // what the engine does not take in, it cannot judge
    const key = `${toHex(signer)}/${m.height}/${m.round}/${m.kind === "vote" ? m.type : 0}`;
    const ids = this.received.get(key) ?? new Set<string>();
    ids.add(m.valueId === null ? "nil" : toHex(m.valueId));
    this.received.set(key, ids);
  }

  /** What the engine's effects do here: the simulated disk and network, the world's checks. */
  private effectsWorld(): TendermintWorld {
    return {
      persist: (record, sync) => this.persist(record, sync),
      broadcast: (message) => this.node.transport.broadcast(encodeMessage(message)),
      send: (to, message) => {
        if (to !== this.index) this.node.transport.send(`n${to}`, encodeMessage(message));
      },
      setTimer: (delayMs, fire) => void this.node.clock.setTimer(delayMs, () => this.guard(fire)),
      validate: (height, value) =>
        blockValid((h) => this.setAt(h), this.world.verifier, value, height, this.parent(height)),
      decide: (height, value) => this.world.onDecide(this, height, value),
      evidence: (evidence) => {
        const index = this.world.set.indexOf(accused(evidence));
        if (this.correct && index >= 0 && this.world.validators[index]!.correct)
          throw new Violation(
            "accusation",
            `correct validator n${this.index} holds evidence against correct validator n${index}`,
          );
      },
    };
  }

  private persist(record: WalRecord, sync: boolean): void {
    const storage = this.node.storage;
    const key = `wal/${String(this.walSeq++).padStart(12, "0")}`;
    storage.put(key, encodeRecord(record));
    if (record.type === "decide") {
      // Compaction: a decision makes the records before it useless (decide records stay).
      for (const k of this.compactable) storage.delete(k);
      this.compactable = [];
    } else {
      this.compactable.push(key);
    }
    if (sync) storage.sync();
  }

  /** The parent a block at `height` must name. */
  parent(height: number): Uint8Array {
    if (height === 1) return new Uint8Array(32);
    // The engine calls buildValue for the next height before the decide effect reaches us.
    const certificate = this.engine?.certificate(height - 1);
    return (
      this.chain.get(height - 1) ??
      (certificate ? certificate.proposal.valueId : new Uint8Array(32).fill(0xff))
    );
  }

  /** Proof of stake: this node's staking state (every node applies the same committed blocks). */
  staking: StakingState | null = null;
  private readonly sets = new Map<object, ValidatorSet>();
  private readonly slashedKeys = new Set<string>();

  /** The validator set of `height` as this node's staking state says (the genesis set otherwise). */
  setAt(height: number): ValidatorSet {
    if (this.staking === null) return this.world.set;
    const powered = this.staking.validatorsAt(height);
    let set = this.sets.get(powered);
    if (set === undefined) this.sets.set(powered, (set = new ValidatorSet(powered)));
    return set;
  }

  /** End of a committed block: evidence in it slashes and jails; the set changes two heights on. */
  endBlock(height: number, value: Uint8Array): void {
    if (this.staking === null) return;
    for (const e of decodeBlock(value).evidence) {
      const key = evidenceKey(e);
      if (this.slashedKeys.has(key)) continue;
      this.slashedKeys.add(key);
      if (!this.staking.info(accused(e)).jailed) this.staking.slash(accused(e));
    }
    this.staking.endBlock(height);
  }

  /**
   * Evidence of heights below `height` this node holds that its chain does not include yet, checked
   * again against the (now final) set of its height, as ConsensusNode does: evidence taken in while
   * that set was still a guess may name a validator the final set left out (jailed meanwhile).
   */
  pendingEvidence(height: number): Evidence[] {
    const usable = (e: Evidence) =>
      e.a.height < height &&
      !this.included.has(evidenceKey(e)) &&
      verifyEvidence(CHAIN_ID, this.setAt(e.a.height), e, this.world.verifier);
    return (this.engine?.evidence() ?? []).filter(usable).slice(0, 8);
  }

  /** Checks the evidence invariant for this incarnation. */
  checkEvidence(): void {
    const held = coversEvidence([this.engine]);
    for (const [key, ids] of this.received) {
      if (ids.size > 1 && !held(key))
        throw new Violation(
          "evidence",
          `n${this.index} received an equivocation (${key}) but holds no evidence for it`,
        );
    }
  }
}

/** The simulated world: validators, the network, the fault schedule and the invariants. */
class World {
  readonly net: SimNetwork;
  readonly rng: Random;
  readonly set: ValidatorSet;
  readonly validators: Validator[] = [];
  readonly tickMs: number;
  readonly verifier: Verifier;
  /** The hostile peer, when the run has one. */
  hostile: HostilePeer | null = null;
  peakFutureMessages = 0;
  peakRounds = 0;
  /** The first committed id per height (agreement reference). */
  readonly committed = new Map<number, string>();
  readonly signedByByzantine = new Map<string, Set<string>>();
  /**
   * Equivocations that every correct validator can take in: both halves signed (or signed again)
   * after the heal, while all correct validators were up and within the engine's height window of
   * the message (by simulated time of the second half).
   */
  readonly equivocatedAt = new Map<string, number>();
  /**
   * Values each byzantine signer/height/round/type signed after the heal. A half signed in the
   * fault phase may have been lost, even in the heal's own tick before the links came back
   * (seed 1270: halves signed at 711 ms, re-signed at 1000 ms just before the heal, one lost).
   */
  private readonly signedAfterHeal = new Map<string, Set<string>>();
  /** Equivocation slots with a half first signed after the heal (see noteSigned). */
  private readonly freshAfterHeal = new Set<string>();
  private healed = false;
  readonly strategies: ByzantineStrategy[] = [];
  crashes = 0;
  partitions = 0;
  /** Evidence keys included in blocks committed by correct validators. */
  readonly evidenceInBlocks = new Set<string>();
  readonly selection: "tendermint" | "pos" | "dpos";
  /** Proof-of-stake state (selection "pos"): slashed from the evidence at the end of the run. */
  readonly staking: StakingState | null;
  readonly stakes: { address: Uint8Array; balance: number; bonded: number }[] | null;
  readonly tracer: ConsensusTracer | undefined;

  constructor(readonly o: SimulationOptions) {
    this.rng = new Random(o.seed);
    this.verifier = o.selfTest === "stale-cache" ? staleCachingVerifier() : cachingVerifier();
    this.tickMs = o.tickMs ?? 200;
    const keys = Array.from({ length: o.validators }, (_, i) =>
      keyPairFromSeed(new Uint8Array(createHash("sha256").update(`chaindb-sim/${o.seed}/${i}`).digest())),
    );
    this.selection = o.selection ?? "tendermint";
    this.stakes = this.selection === "pos" ? stakeGenesis(keys, this.rng) : null;
    this.staking = this.stakes === null ? null : stakingFor(this.stakes);
    const powered =
      this.staking?.validatorsAt(1) ??
      (this.selection === "dpos"
        ? electionFor(keys, this.rng).validatorsAt(1)
        : keys.map((k) => ({ address: k.publicKey, power: 1 })));
    this.set = new ValidatorSet(powered);
    keys.sort((a, b) => this.set.indexOf(a.publicKey) - this.set.indexOf(b.publicKey));
    const byzantineSet = chooseByzantine(this.set, o.byzantine, this.rng);
    this.tracer = o.trace && new ConsensusTracer(o.trace, this.set);
    this.net = new SimNetwork({
      seed: this.rng.u32(),
      link: this.faultyLink(),
      settle: "microtask",
      eventsMax: 1_000_000,
      ...(o.trace && { trace: o.trace }),
    });
    for (const [i, key] of keys.entries()) {
      const node = this.net.addNode(`n${i}`);
      const correct = !byzantineSet.has(i) || o.mislabelByzantine === true;
      let behavior = honest;
      if (byzantineSet.has(i)) {
        const strategy = this.rng.pick(BYZANTINE_STRATEGIES);
        this.strategies.push(strategy);
        behavior = byzantine(strategy, {
          variant: (v) => remake(v, null, this.rng.u32()),
          corrupt: (v) => remake(v, 0, this.rng.u32()),
          onSigned: (m) => this.noteSigned(m),
        });
      }
      const validator = new Validator(i, key, correct, behavior, node, this);
      if (this.stakes !== null) validator.staking = stakingFor(this.stakes);
      this.validators.push(validator);
    }
    if (o.hostile) this.addHostile(keys.filter((_, i) => byzantineSet.has(i)));
  }

  /** The hostile peer: node n<validators>, attacking every `hostileIntervalMs` (its own seeded stream). */
  private addHostile(keys: KeyPair[]): void {
    const rng = new Random((this.o.seed ^ 0x5eed_b0a7) >>> 0);
    const outsider = keyPairFromSeed(
      new Uint8Array(createHash("sha256").update(`chaindb-sim/${this.o.seed}/outsider`).digest()),
    );
    const hostile = (this.hostile = new HostilePeer({
      chainId: CHAIN_ID,
      set: this.set,
      keys,
      outsider,
      rng,
    }));
    const node = this.net.addNode(`n${this.o.validators}`);
    node.transport.setHandler({ onMessage: (_from, payload) => hostile.observe(payload) });
    const interval = this.o.hostileIntervalMs ?? 10;
    const attack = () => {
      const target = `n${rng.int(0, this.o.validators - 1)}`;
      for (const { to, payload } of hostile.next().sends) {
        if (to === "single") node.transport.send(target, payload);
        else
          for (const peer of node.transport.peerIds) if (peer !== target) node.transport.send(peer, payload);
      }
      node.clock.setTimer(interval, attack);
    };
    node.clock.setTimer(interval, attack);
  }

  /**
   * The memory invariant at a tick of correct validator `v`: its future buffer within slots ×
   * heights (FutureBuffer), its rounds within the window above its round plus one catch-up round
   * per validator, its evidence within the pool's bound.
   */
  checkMemory(v: Validator): void {
    const stats = v.engine.stats();
    const n = v.setAt(v.engine.height).size;
    const peers = this.validators.length + (this.hostile === null ? 0 : 1);
    const scale = this.o.selfTest === "memory-bound" ? 1 / 40 : 1;
    const perRound = PROPOSALS_PER_ROUND_MAX + 2 * n * VOTES_PER_VALIDATOR_MAX;
    const futureMax =
      FUTURE_HEIGHTS *
      ((ROUND_WINDOW + 1) * perRound + Math.min(peers, FUTURE_CERTIFICATE_PEERS_MAX)) *
      scale;
    const roundsMax = v.engine.round + 1 + ROUND_WINDOW + n;
    this.peakFutureMessages = Math.max(this.peakFutureMessages, stats.futureMessages);
    this.peakRounds = Math.max(this.peakRounds, stats.rounds);
    if (stats.futureMessages > futureMax)
      throw new Violation(
        "memory",
        `n${v.index} buffers ${stats.futureMessages} future messages, bound ${futureMax}`,
      );
    if (stats.rounds > roundsMax)
      throw new Violation(
        "memory",
        `n${v.index} holds ${stats.rounds} rounds at round ${v.engine.round}, bound ${roundsMax}`,
      );
    if (stats.evidence > EVIDENCE_MAX)
      throw new Violation("memory", `n${v.index} holds ${stats.evidence} evidence, bound ${EVIDENCE_MAX}`);
  }

  private faultyLink() {
    const maxMs = this.rng.int(5, 60);
    return {
      latency: { kind: "uniform" as const, minMs: 1, maxMs },
      loss: this.rng.float() * 0.15,
      duplicate: this.rng.float() * 0.1,
      reorder: this.rng.float() * 0.2,
      reorderDelayMs: this.rng.int(10, 200),
    };
  }

  engineOptions(v: Validator): EngineOptions {
    return {
      chainId: CHAIN_ID,
      validators: this.set,
      key: v.key,
      buildValue: (height) =>
        makeBlock(
          height,
          v.parent(height),
          VALID,
          v.node.random.u32(),
          lastCommitOf(v.engine?.certificate(height - 1)),
          v.pendingEvidence(height),
        ),
      behavior: v.behavior,
      verifier: this.verifier,
      peers: this.validators.length || this.o.validators,
      ...(this.staking !== null ? { validatorsAt: (h: number) => v.setAt(h) } : {}),
      newHeightDelayMs: this.o.newHeightDelayMs ?? 200,
      relayVotes: this.o.relayVotes ?? true,
      ...(this.o.selfTest === "old-evidence" ? oldEvidenceLookup(v) : {}),
    };
  }

  private noteSigned(m: Proposal | Vote): void {
    const key = `${toHex(m.kind === "vote" ? m.validator : m.proposer)}/${m.height}/${m.round}/${m.kind === "vote" ? m.type : 0}`;
    const ids = this.signedByByzantine.get(key) ?? new Set<string>();
    const value = m.valueId === null ? "nil" : toHex(m.valueId);
    // Signed again, a half is the same message (same signature): engines take a signature in and
    // relay it once, so a pair whose halves were both first sent during the faults (when a relay
    // could be lost) stays exempt though the behaviour re-sends it after the heal.
    if (this.healed && !ids.has(value)) this.freshAfterHeal.add(key);
    ids.add(value);
    this.signedByByzantine.set(key, ids);
    if (!this.healed) return;
    const after = this.signedAfterHeal.get(key) ?? new Set<string>();
    after.add(value);
    this.signedAfterHeal.set(key, after);
    if (
      after.size === 2 &&
      this.freshAfterHeal.has(key) &&
      !this.equivocatedAt.has(key) &&
      this.allCorrectNear(m.height)
    )
      this.equivocatedAt.set(key, this.net.now);
  }

  /** True if every correct validator is up and would admit a message of `height` now. */
  private allCorrectNear(height: number): boolean {
    return this.validators.every(
      (v) =>
        !v.correct ||
        (v.node.up &&
          v.engine !== undefined &&
          v.engine.height >= height - 2 &&
          v.engine.height <= height + 4),
    );
  }

  onDecide(v: Validator, height: number, value: Uint8Array): void {
    v.endBlock(height, value);
    const id = valueIdOf(value);
    if (!v.correct) return void v.chain.set(height, id);
    if (!blockValid((h) => v.setAt(h), this.verifier, value, height, v.parent(height)))
      throw new Violation("validity", `n${v.index} committed an invalid block at height ${height}`);
    for (const e of decodeBlock(value).evidence)
      (v.included.add(evidenceKey(e)), this.evidenceInBlocks.add(evidenceKey(e)));
    const first = this.committed.get(height);
    if (first !== undefined && first !== toHex(id))
      throw new Violation(
        "agreement",
        `n${v.index} committed ${toHex(id).slice(0, 16)} at height ${height}, another correct validator ${first.slice(0, 16)}`,
      );
    this.committed.set(height, toHex(id));
    v.chain.set(height, id);
  }

  /** Draws the fault schedule of the fault phase onto the harness clock. */
  scheduleFaults(faultMs: number): void {
    const correct = this.validators.filter((v) => v.correct);
    for (let k = this.rng.int(0, 2); k > 0; k--) {
      const at = this.rng.int(0, faultMs - 1),
        length = this.rng.int(200, 2000);
      const groups = this.rng.shuffle(this.validators.map((v) => v.node.id));
      const cut = this.rng.int(1, groups.length - 1);
      this.net.clock.setTimer(
        at,
        () => (this.partitions++, this.net.partition([groups.slice(0, cut), groups.slice(cut)])),
      );
      this.net.clock.setTimer(Math.min(at + length, faultMs), () => this.net.heal());
    }
    for (let k = this.rng.int(0, 2); k > 0; k--) {
      const v = this.rng.pick(correct);
      const at = this.rng.int(0, faultMs - 1),
        down = this.rng.int(50, 3000);
      this.net.clock.setTimer(at, () => this.crash(v));
      this.net.clock.setTimer(Math.min(at + down, faultMs), () => this.restart(v));
    }
  }

  private crash(v: Validator): void {
    if (!v.node.up) return;
    v.checkEvidence();
    this.crashes++;
    this.net.crash(v.node.id);
  }

  restart(v: Validator): void {
    if (v.node.up) return;
    this.net.restart(v.node.id);
    v.boot();
  }

  /** Clean links, no partitions, everyone up. */
  healAll(): void {
    this.healed = true;
    this.net.heal();
    const ids = this.validators.map((v) => v.node.id);
    for (const a of ids)
      for (const b of ids)
        if (a !== b)
          this.net.setLink(
            a,
            b,
            { latency: { kind: "uniform", minMs: 1, maxMs: 10 }, loss: 0, duplicate: 0, reorder: 0 },
            false,
          );
    for (const v of this.validators) this.restart(v);
  }

  correctHeights(): number[] {
    return this.validators.filter((v) => v.correct).map((v) => v.engine.height - 1);
  }
}

/** Random bonded stakes (1–100) for every validator, all in the set. */
function stakeGenesis(
  keys: KeyPair[],
  rng: Random,
): { address: Uint8Array; balance: number; bonded: number }[] {
  return keys.map((k) => ({ address: k.publicKey, balance: 0, bonded: rng.int(1, 100) }));
}

/** A staking state from the genesis; a slashing burns 5% and jails (so the set shrinks). */
function stakingFor(genesis: { address: Uint8Array; balance: number; bonded: number }[]): StakingState {
  return new StakingState(
    { unbondingHeights: 100, slashPpm: 50_000, maxValidators: genesis.length },
    genesis,
  );
}

/** 3 voters per validator with random balances; each votes for "its" candidate and up to 2 more. */
function electionFor(keys: KeyPair[], rng: Random): DelegateElection {
  const election = new DelegateElection({
    delegates: keys.length,
    votesPerVoter: 3,
    epochHeights: 1000,
    power: "weighted",
  });
  for (const k of keys) election.register(k.publicKey);
  for (let i = 0; i < keys.length * 3; i++) {
    const voter = new Uint8Array(createHash("sha256").update(`voter/${i}/${rng.u32()}`).digest());
    election.setBalance(voter, rng.int(1, 1000));
    election.vote(voter, [
      keys[i % keys.length]!.publicKey,
      rng.pick(keys).publicKey,
      rng.pick(keys).publicKey,
    ]);
  }
  return election;
}

/** `count` byzantine validators holding less than 1/3 of the power: random ones, else the weakest. */
export function chooseByzantine(set: ValidatorSet, count: number, rng: Random): Set<number> {
  // Strictly below 1/3: with exactly 1/3 byzantine the correct 2/3 is no quorum (more than 2/3),
  // and the chain may stall without breaking the model's assumption (pos seed 930 did).
  const below = (ids: number[]) => ids.reduce((sum, i) => sum + set.power(i), 0) * 3 < set.totalPower;
  const indices = set.validators.map((_, i) => i);
  const random = rng.shuffle(indices).slice(0, count);
  if (below(random)) return new Set(random);
  const weakest = indices.sort((a, b) => set.power(a) - set.power(b)).slice(0, count);
  if (below(weakest)) return new Set(weakest);
  throw new ChainDbError(
    ErrorCode.BAD_ARGUMENT,
    `no ${count} validators hold less than 1/3 of the power in this draw`,
  );
}

/** The signature cache as it was before issue 14: keyed without the public key (self-test only). */
function staleCachingVerifier(): Verifier {
  const cache = new Map<string, boolean>();
  return (publicKey, message, signature) => {
    const key = toHex(signature) + toHex(message);
    let ok = cache.get(key);
    if (ok === undefined) cache.set(key, (ok = ed25519Verify(publicKey, message, signature)));
    return ok;
  };
}

/** Self-test "old-evidence": every age judged, and sets kept only 6 heights back (asserting below; messages reach 4 back). */
function oldEvidenceLookup(v: Validator): Pick<EngineOptions, "evidenceHeights" | "validatorsAt"> {
  return {
    evidenceHeights: Number.MAX_SAFE_INTEGER,
    validatorsAt: (h) => {
      assert(h >= (v.engine?.height ?? 1) - 6, `no validator set for height ${h}`);
      return v.setAt(h);
    },
  };
}

function fromHexAddress(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/** Runs one seeded simulation and checks its invariants. */
export async function simulateConsensus(o: SimulationOptions): Promise<SimulationResult> {
  aint(o.validators, 1, 128, "validators");
  aint(o.byzantine, 0, o.validators, "byzantine");
  if (o.byzantine * 3 >= o.validators)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `${o.byzantine} byzantine of ${o.validators} equal-power validators is not below 1/3`,
    );
  const world = new World(o);
  const faultMs = o.faultMs ?? world.rng.int(2000, 6000);
  const heights = o.heights ?? 3;
  const livenessMs = o.livenessMs ?? 120_000;
  let violation: SimulationResult["violation"];
  try {
    for (const v of world.validators) v.boot();
    world.scheduleFaults(faultMs);
    await runBounded(world, () => false, faultMs);
    world.healAll();
    const target = Math.max(...world.correctHeights()) + heights;
    const live = await runBounded(world, () => Math.min(...world.correctHeights()) >= target, livenessMs);
    if (!live) {
      const states = world.validators
        .map((v) => `n${v.index}${v.correct ? "" : "(byzantine)"}: ${v.engine.describe()}`)
        .join("; ");
      throw new Violation(
        "liveness",
        `after the heal at ${faultMs} ms, correct heights are ${world.correctHeights().join(",")} after ${livenessMs} ms (target ${target}); ${states}`,
      );
    }
    for (const v of world.validators) if (v.correct) v.checkEvidence();
    await checkEvidenceAfterHeal(world, faultMs);
  } catch (error) {
    if (!(error instanceof Violation)) throw error;
    violation = { invariant: error.invariant, detail: error.message };
    world.tracer?.violation(error.invariant, error.message, o.validators);
  }
  const signed = [...world.signedByByzantine].filter(([, ids]) => ids.size > 1).map(([k]) => k);
  const held = new Set(
    world.validators.filter((v) => v.correct).flatMap((v) => v.engine.evidence().map(evidenceKey)),
  );
  const heightsNow = world.correctHeights();
  // Proof of stake: evidence in committed blocks slashed and jailed its offenders during the run.
  const slashed = new Set<string>();
  let validatorsAfterSlashing = world.set.size;
  const reference = world.validators.find((v) => v.correct);
  if (reference?.staking && violation === undefined) {
    for (const v of world.set.validators)
      if (reference.staking.info(v.address).jailed) slashed.add(toHex(v.address));
    validatorsAfterSlashing = reference.setAt(reference.engine.height).size;
    for (const a of slashed)
      if (world.validators[world.set.indexOf(fromHexAddress(a))]!.correct)
        violation = { invariant: "accusation", detail: `correct validator ${a} was slashed` };
  }
  return {
    seed: o.seed,
    ok: violation === undefined,
    ...(violation ? { violation } : {}),
    minHeight: Math.min(...heightsNow),
    maxHeight: Math.max(...heightsNow),
    simTimeMs: world.net.now,
    messages: world.net.stats.sent,
    crashes: world.crashes,
    partitions: world.partitions,
    strategies: world.strategies,
    equivocations: signed.length,
    equivocationsWithEvidence: signed.filter((k) => held.has(k)).length,
    evidenceInBlocks: world.evidenceInBlocks.size,
    slashed: slashed.size,
    validatorsAfterSlashing,
    hostileMessages: [...(world.hostile?.counts.values() ?? [])].reduce((a, b) => a + b, 0),
    peakFutureMessages: world.peakFutureMessages,
    peakRounds: world.peakRounds,
  };
}

/** Simulated time after the last checked equivocation, for its halves and evidence to spread. */
const EVIDENCE_DRAIN_MS = 1000;

/**
 * On clean links every equivocation reaches someone with both halves (votes are relayed, late
 * ones too, and proposal headers), so after the heal each one signed while every correct
 * validator could admit it must become evidence at some correct validator. The fault phase is
 * exempt: a half sent to one validator can be lost, and then nobody can know.
 */
async function checkEvidenceAfterHeal(world: World, healAt: number): Promise<void> {
  const until = world.net.now;
  await runBounded(world, () => false, EVIDENCE_DRAIN_MS);
  const held = coversEvidence(world.validators.filter((v) => v.correct).map((v) => v.engine));
  for (const [key, at] of world.equivocatedAt) {
    if (at >= healAt && at <= until && !held(key))
      throw new Violation(
        "evidence",
        `equivocation ${key} signed at ${Math.round(at)} ms, after the heal at ${healAt} ms, became evidence at no correct validator`,
      );
  }
}

/** What holds evidence: an engine, or a ConsensusNode (node-simulation.ts checks with the same rule). */
export interface EvidenceHolder {
  evidence(): Evidence[];
  evidenceQuotaReached(address: Uint8Array): boolean;
}

/**
 * Whether some engine holds evidence for an equivocation key: that evidence itself, or its full
 * share of evidence against the same validator (see `evidenceQuotaReached`; further offences are
 * dropped, one is enough to slash).
 */
export function coversEvidence(engines: readonly EvidenceHolder[]): (key: string) => boolean {
  const keys = new Set(engines.flatMap((e) => e.evidence().map(evidenceKey)));
  return (key) =>
    keys.has(key) ||
    engines.some((e) => e.evidenceQuotaReached(fromHexAddress(key.slice(0, key.indexOf("/")))));
}

async function runBounded(world: World, done: () => boolean, ms: number): Promise<boolean> {
  let events = 0;
  await world.net.runUntil(() => done() || ++events > EVENTS_MAX, ms);
  if (events > EVENTS_MAX)
    throw new Violation("liveness", `event budget of ${EVENTS_MAX} exhausted at ${world.net.now} ms`);
  return done();
}
