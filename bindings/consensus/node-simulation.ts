/**
 * The consensus simulation's second configuration: the shipping {@link ConsensusNode} itself —
 * mempool, block building and execution, block store, block sync, selection state — over the
 * seeded SimNetwork, every node's files on its own seeded fault-injecting file system (FaultFs),
 * the way TigerBeetle's simulator runs its real replica on a simulated storage. The first
 * configuration (simulation.ts) drives bare engines and stays: it costs a fraction of the CPU per
 * seed, checks the engine's memory bounds at every tick and draws its tracer's diagrams, which
 * this one does not.
 *
 * One seed fixes the keys, the byzantine validators (less than 1/3 of the power, as
 * `chooseByzantine` enforces) and their strategies (byzantine.ts, through the node's behaviour
 * hook), the client's transfers, every network decision and the fault schedule: a fault phase
 * of lossy, duplicating, reordering links, random partitions and power losses of correct nodes,
 * then a heal. A power loss comes at a seeded point — between two of the node's effects (its crash
 * hook), at a file operation, or between events — drops every write not fsynced (some torn or
 * zeroed, FaultFs's model) and restarts the node from its files after a seeded delay. The heal
 * makes the links between validators clean, as the engine simulation's does. Invariants:
 * - agreement: no two correct nodes commit different blocks, or reach different state roots, at
 *   a height;
 * - durability: a restarted node is at least at the height it reported committed, with the blocks
 *   and state root committed everywhere;
 * - signature: a correct node never signs two values for one height, round and step, across all
 *   its incarnations (every message it sends is recorded);
 * - restart: every restart opens (no bit flips are injected here, see below);
 * - halt: no correct node's event loop fails other than by its power loss;
 * - liveness: after the heal, every correct node commits `heights` more blocks within `livenessMs`;
 * - funds: every transfer a node accepted is committed by the end (the client re-sends one not
 *   committed after {@link RESEND_MS}, as a wallet does: a mempool is not durable);
 * - evidence and accusation: simulation.ts's rules (see node-simulation-checks.ts).
 * With `hostile`, hostile.ts's peer attacks through the whole run; the same invariants hold.
 * Bit flips in fsynced files are left to test/consensus/consensus-node-crash.test.ts: a node that
 * finds one stops with a coded error, and without a repair protocol it stays out, so a flip here
 * would only test that a cluster with one validator fewer than planned still runs.
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { keyPairFromSeed, type KeyPair } from "../chain/index.ts";
import { Random, SimNetwork, type Transport } from "../net/index.ts";
import { FaultFs, wrapPort, type FilePort } from "../store/index.ts";
import { ChainDbError, aint, toHex } from "../util/index.ts";
import { honest, type Behavior } from "./behavior.ts";
import { decodeBlock, encodeBlock } from "./block.ts";
import { BYZANTINE_STRATEGIES, byzantine, type ByzantineStrategy } from "./byzantine.ts";
import { evidenceKey } from "./evidence.ts";
import { HostilePeer } from "./hostile.ts";
import { ConsensusNode, type ChainGenesis, type CommittedBlock } from "./node.ts";
import { EvidenceChecker, NodeChecker, NodeViolation, type NodeInvariant } from "./node-simulation-checks.ts";
import { NodeClient, RESEND_MS } from "./node-simulation-client.ts";
import { chooseByzantine } from "./simulation.ts";
import { TAG } from "./sync.ts";
import { ValidatorSet } from "./validators.ts";

export type { NodeInvariant } from "./node-simulation-checks.ts";
export { RESEND_MS };

/**
 * Checker self-tests (never set in a real run): a seeded bug the invariants must catch.
 * "wal-no-fsync": the consensus log is never fsynced (a vote can go out before it is durable);
 * "forget-wal": a restarted node has lost its consensus log (its last-signed record);
 * "no-fsync": no file or directory of a node is ever fsynced;
 * "mislabel-byzantine": byzantine nodes are checked as correct ones.
 */
export type NodeSelfTest = "wal-no-fsync" | "forget-wal" | "no-fsync" | "mislabel-byzantine";

/** Options of {@link simulateConsensusNodes}. */
export interface NodeSimulationOptions {
  readonly seed: number;
  /** Validators (equal stake); default 4. */
  readonly validators?: number;
  /** Byzantine validators among them (power below 1/3); default 0. */
  readonly byzantine?: number;
  /** How validators are chosen; default "tendermint". */
  readonly selection?: "tendermint" | "pos" | "dpos";
  /** Blocks every correct node must commit after the heal; default 3. */
  readonly heights?: number;
  /** Length of the fault phase in simulated ms; default drawn from the seed (1–3 s). */
  readonly faultMs?: number;
  /** Bound on the time from the heal to the last required commit; default 60 s. */
  readonly livenessMs?: number;
  /** Power losses of correct nodes in the fault phase; default true. */
  readonly crashes?: boolean;
  /**
   * Adds a hostile peer (hostile.ts) holding the byzantine validators' keys and an outsider's,
   * attacking every `hostileIntervalMs` through the whole run; its messages reach the nodes as
   * consensus payloads, and a tenth of them under a random tag (block sync, status, transactions).
   */
  readonly hostile?: boolean;
  /** Simulated ms between two attacks of the hostile peer; default 10. */
  readonly hostileIntervalMs?: number;
  /** A checker self-test (see {@link NodeSelfTest}). */
  readonly selfTest?: NodeSelfTest;
}

/** What a run of {@link simulateConsensusNodes} found. */
export interface NodeSimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation?: { readonly invariant: NodeInvariant; readonly detail: string };
  /** Lowest and highest committed height among correct nodes at the end. */
  readonly minHeight: number;
  readonly maxHeight: number;
  readonly simTimeMs: number;
  readonly messages: number;
  readonly partitions: number;
  /** Power losses by where they hit: between effects, at a file operation, between events. */
  readonly crashes: { readonly hook: number; readonly file: number; readonly idle: number };
  /** Unsynced writes the power losses lost, tore or zeroed (over all nodes). */
  readonly damagedWrites: number;
  /** Client transfers accepted by a node, and of those, committed. */
  readonly submitted: number;
  readonly committed: number;
  /** Messages correct nodes signed (the signature invariant's record). */
  readonly signatures: number;
  readonly strategies: readonly ByzantineStrategy[];
  /** Distinct equivocations byzantine nodes signed, and of those held as evidence by a correct node. */
  readonly equivocations: number;
  readonly equivocationsWithEvidence: number;
  /** Distinct evidence in blocks correct nodes committed, and validators it slashed. */
  readonly evidenceInBlocks: number;
  readonly slashed: number;
  /** Messages the hostile peer sent (0 without one). */
  readonly hostileMessages: number;
  /** sha256 over every height's block id and state root: equal for a replayed seed. */
  readonly fingerprint: string;
}

const CHAIN_ID = 9;
const USERS = 4;
const TIMEOUTS = {
  proposeMs: 300,
  proposeDeltaMs: 100,
  prevoteMs: 150,
  prevoteDeltaMs: 50,
  precommitMs: 150,
  precommitDeltaMs: 50,
};
/** Small block segments, so runs seal and reopen several (store.ts's sealed-segment path). */
const SEGMENT_BYTES = 4096;
/** Chance, at each step of the fault phase (100–500 ms), that a correct node loses power. */
const CRASH_CHANCE = 0.5;
/** Simulated time after the last checked equivocation, for its halves and evidence to spread. */
const EVIDENCE_DRAIN_MS = 1000;

/**
 * The one-line command that replays a seed of this configuration: the CLI's for what it can set,
 * the test file's for a run with other options (a self-test, a fixed fault phase).
 */
export function nodeReplayCommand(o: NodeSimulationOptions): string {
  const { seed, validators, byzantine, selection, ...rest } = o;
  if (Object.values(rest).some((v) => v !== undefined))
    return `CHAINDB_SEEDS=${seed}..${seed} npx vitest run test/consensus/consensus-node-simulation.test.ts`;
  const consensus = selection !== undefined && selection !== "tendermint" ? ` --consensus ${selection}` : "";
  return `npx chaindb simulate consensus --nodes --validators ${validators ?? 4} --byzantine ${byzantine ?? 0}${consensus} --seeds ${seed}..${seed}`;
}

/** One validator: its keys and disk, and the incarnation running now. */
interface Slot {
  readonly index: number;
  readonly id: string;
  readonly key: KeyPair;
  readonly correct: boolean;
  /** Checked as correct (all but byzantine nodes; everyone under "mislabel-byzantine"). */
  readonly checked: boolean;
  readonly behavior: Behavior;
  readonly fs: FaultFs;
  readonly port: FilePort;
  node: ConsensusNode | null;
  down: boolean;
  /** Height the running incarnation reported committed. */
  reported: number;
  /** Highest height reported by any incarnation. */
  height: number;
  /** Effects until the crash hook cuts the power (undefined: not armed). */
  hookIn: number | undefined;
  /** Byzantine halves this incarnation admitted (evidence invariant). */
  received: Map<string, Set<string>>;
}

type Action = { kind: "down"; slot: Slot; at: "hook" | "file" | "idle" } | { kind: "up"; slot: Slot };

/** The simulated cluster: nodes, network, fault schedule and checkers. */
class NodeWorld {
  readonly net: SimNetwork;
  readonly rng: Random;
  readonly slots: Slot[] = [];
  readonly checker: NodeChecker;
  readonly evidence: EvidenceChecker;
  readonly strategies: ByzantineStrategy[] = [];
  readonly crashes = { hook: 0, file: 0, idle: 0 };
  private readonly actions: Action[] = [];
  private readonly genesis: ChainGenesis;
  readonly users: KeyPair[];
  healed = false;
  partitions = 0;
  hostileMessages = 0;

  constructor(readonly o: NodeSimulationOptions) {
    const n = aint(o.validators ?? 4, 1, 16, "validators");
    const f = aint(o.byzantine ?? 0, 0, n, "byzantine");
    this.net = new SimNetwork({
      seed: o.seed,
      link: { latency: { kind: "uniform", minMs: 1, maxMs: 20 }, loss: 0.05, duplicate: 0.02, reorder: 0.05 },
    });
    this.rng = this.net.random.fork();
    const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(seedBytes(o.seed, i)));
    this.users = Array.from({ length: USERS }, (_, i) => keyPairFromSeed(seedBytes(o.seed, 100 + i)));
    this.genesis = genesisOf(keys, this.users, o.selection ?? "tendermint");
    const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
    // Drawn only when asked for, so runs without byzantine nodes keep their seeds' schedules.
    const bad = f === 0 ? new Set<number>() : chooseByzantine(set, f, this.rng);
    const byzantineKeys = new Set([...bad].map((i) => toHex(set.validators[i]!.address)));
    const mislabel = o.selfTest === "mislabel-byzantine";
    const isChecked = (a: Uint8Array) => mislabel || !byzantineKeys.has(toHex(a));
    this.checker = new NodeChecker(isChecked);
    this.evidence = new EvidenceChecker(
      this.checker,
      isChecked,
      () => this.net.now,
      (h) => this.allCorrectNear(h),
    );
    for (const [i, key] of keys.entries()) {
      const correct = !byzantineKeys.has(toHex(key.publicKey));
      const fs = new FaultFs({ seed: (o.seed * 31 + i + 1) >>> 0 });
      this.slots.push({
        index: i,
        id: `v${i}`,
        key,
        correct,
        checked: correct || mislabel,
        behavior: correct ? honest : this.byzantineBehavior(),
        fs,
        port: portOf(fs, o.selfTest),
        node: null,
        down: false,
        reported: 0,
        height: 0,
        hookIn: undefined,
        received: new Map(),
      });
      this.net.addNode(`v${i}`);
    }
    if (o.hostile === true)
      this.addHostile(
        set,
        keys.filter((k) => byzantineKeys.has(toHex(k.publicKey))),
      );
  }

  /** The hostile peer: node `x` (its own seeded stream), attacking a random validator or all of them. */
  private addHostile(set: ValidatorSet, keys: KeyPair[]): void {
    const rng = new Random((this.o.seed ^ 0x5eed_b0a7) >>> 0);
    const outsider = keyPairFromSeed(seedBytes(this.o.seed, 1000));
    const hostile = new HostilePeer({ chainId: `chaindb-${CHAIN_ID}`, set, keys, outsider, rng });
    const node = this.net.addNode("x");
    node.transport.setHandler({
      onMessage: (_from, payload) => {
        if (payload[0] === TAG.consensus) hostile.observe(payload.subarray(1));
      },
    });
    const interval = this.o.hostileIntervalMs ?? 10;
    const attack = () => {
      const target = `v${rng.int(0, this.slots.length - 1)}`;
      for (const { to, payload } of hostile.next().sends) {
        // Mostly consensus messages; sometimes the same bytes under another tag.
        const tag = rng.chance(0.1) ? rng.int(1, 255) : TAG.consensus;
        const tagged = new Uint8Array(payload.length + 1);
        tagged[0] = tag;
        tagged.set(payload, 1);
        this.hostileMessages++;
        if (to === "single") node.transport.send(target, tagged);
        else
          for (const peer of node.transport.peerIds) if (peer !== target) node.transport.send(peer, tagged);
      }
      node.clock.setTimer(interval, attack);
    };
    node.clock.setTimer(interval, attack);
  }

  private byzantineBehavior(): Behavior {
    const strategy = this.rng.pick(BYZANTINE_STRATEGIES);
    this.strategies.push(strategy);
    // The twin of a block: the same block with another state root (invalid, but signed: an
    // equivocation or an invalid proposal all the same). A valid twin would need a second
    // execution of another transaction set.
    const twin = (value: Uint8Array) => {
      const b = decodeBlock(value);
      const stateRoot = b.stateRoot.slice();
      stateRoot[0]! ^= 1;
      return encodeBlock({ ...b, stateRoot });
    };
    return byzantine(strategy, {
      variant: twin,
      corrupt: twin,
      onSigned: (m) => this.evidence.signedByzantine(m),
    });
  }

  get correct(): Slot[] {
    return this.slots.filter((s) => s.correct);
  }

  /** The running nodes of correct validators. */
  correctNodes(): ConsensusNode[] {
    return this.correct.flatMap((s) => (s.node === null || s.down ? [] : [s.node]));
  }

  /** True if every correct node is up with its engine within the window of a message of `height`. */
  private allCorrectNear(height: number): boolean {
    return this.correct.every(
      (s) => !s.down && s.node !== null && s.node.height + 1 >= height - 2 && s.node.height + 1 <= height + 4,
    );
  }

  async open(slot: Slot): Promise<void> {
    const sim = this.net.node(slot.id);
    // Every height any incarnation reported committed must still be there: the durability bound.
    const before = slot.height;
    slot.received = new Map();
    let node: ConsensusNode;
    try {
      node = await ConsensusNode.open({
        chainId: CHAIN_ID,
        genesis: this.genesis,
        key: slot.key,
        transport: this.watched(slot, sim.transport),
        clock: sim.clock,
        dir: `/${slot.id}`,
        filePort: slot.port,
        blockSegmentBytes: SEGMENT_BYTES,
        timeouts: TIMEOUTS,
        newHeightDelayMs: 20,
        tickMs: 100,
        behavior: slot.behavior,
        beforeEffect: () => this.hook(slot),
        onCommit: (b) => this.onCommit(slot, b),
        onEvidence: (e) => void (slot.checked && this.evidence.evidence(slot.id, e)),
      });
    } catch (error) {
      const coded = error instanceof ChainDbError ? ` (${error.code})` : "";
      throw new NodeViolation(
        "restart",
        `${slot.id} failed to reopen after a power loss${coded}: ${String(error)}`,
      );
    }
    slot.node = node;
    slot.reported = node.height;
    if (slot.checked) this.checker.reopened(slot.id, node, before);
  }

  private hook(slot: Slot): boolean {
    if (slot.hookIn === undefined || --slot.hookIn > 0) return true;
    this.powerLoss(slot, "hook");
    return false;
  }

  private onCommit(slot: Slot, b: CommittedBlock): void {
    slot.reported = b.height;
    slot.height = Math.max(slot.height, b.height);
    if (!slot.checked) return;
    this.checker.commit(slot.id, b.height, toHex(b.id), toHex(b.root));
    this.evidence.committed(slot.id, b.block.evidence.map(evidenceKey), b.slashed);
  }

  /** The node's transport with what it sends shown to the checker and what it receives to the evidence check. */
  private watched(slot: Slot, t: Transport): Transport {
    if (!slot.checked) return t;
    const sent = (payload: Uint8Array) => this.checker.sent(slot.id, payload);
    return {
      self: t.self,
      peerIds: t.peerIds,
      isConnected: (p) => t.isConnected(p),
      send: (to, payload) => (sent(payload), t.send(to, payload)),
      broadcast: (payload) => (sent(payload), t.broadcast(payload)),
      setHandler: (h) =>
        t.setHandler({
          ...h,
          onMessage: (from, payload) => {
            if (slot.node !== null && !slot.down) this.evidence.received(slot.node, payload, slot.received);
            h.onMessage(from, payload);
          },
        }),
      close: () => t.close(),
    };
  }

  /** Power loss now: the disk keeps only what was fsynced (settled at the restart), the node stops. */
  powerLoss(slot: Slot, at: "hook" | "file" | "idle"): void {
    if (slot.down) return;
    slot.fs.crash();
    this.net.crash(slot.id);
    slot.down = true;
    slot.hookIn = undefined;
    this.crashes[at]++;
    this.actions.push({ kind: "down", slot, at });
  }

  /** Arms a power loss of a random running correct node: now, at a coming effect or file operation. */
  armCrash(): void {
    const up = this.correct.filter((s) => !s.down && s.node !== null);
    if (up.length === 0) return;
    const slot = this.rng.pick(up);
    const how = this.rng.int(0, 2);
    if (how === 0) this.powerLoss(slot, "idle");
    else if (how === 1) slot.hookIn = this.rng.int(1, 40);
    else slot.fs.crashAfterOps(this.rng.int(1, 80));
  }

  /** After every event: file-system crashes become power losses, correct nodes must not fail. */
  private watch(): boolean {
    for (const s of this.slots) {
      if (!s.down && s.fs.crashed) this.powerLoss(s, "file");
      else if (s.checked && !s.down && s.node?.failure != null)
        this.checker.fail("halt", `${s.id} failed: ${describeError(s.node.failure)}`);
    }
    return this.actions.length > 0 || this.checker.violation !== undefined;
  }

  /** Runs until `done()`, a violation, or `ms` of simulated time; carries out crashes and restarts on the way. */
  async runUntil(done: () => boolean, ms: number): Promise<boolean> {
    const end = this.net.now + ms;
    for (;;) {
      if (this.checker.violation !== undefined) return false;
      await this.net.runUntil(() => this.watch() || done(), Math.max(0, Math.ceil(end - this.net.now)));
      if (this.actions.length === 0) return this.checker.violation === undefined && done();
      await this.runActions();
    }
  }

  private async runActions(): Promise<void> {
    for (let a = this.actions.shift(); a !== undefined; a = this.actions.shift()) {
      const slot = a.slot;
      if (a.kind === "up") {
        if (!slot.down) continue;
        this.net.restart(slot.id);
        slot.down = false;
        await this.open(slot);
        continue;
      }
      const old = slot.node;
      slot.node = null;
      // Between events all it received was handled: this incarnation's evidence can be judged.
      if (a.at === "idle" && old !== null && slot.checked)
        this.evidence.checkIncarnation(slot.id, old, slot.received);
      await old?.close().catch(() => {}); // its files fail with ECRASH now: nothing more reaches the disk
      slot.fs.restart();
      if (this.o.selfTest === "forget-wal") slot.fs.unlink(join(`/${slot.id}`, "consensus.wal"));
      if (this.healed) this.actions.push({ kind: "up", slot });
      else
        this.net.clock.setTimer(this.rng.int(100, 1500), () => void this.actions.push({ kind: "up", slot }));
    }
  }

  /** Clean links, no partitions, no more power losses, every node up. */
  async heal(): Promise<void> {
    this.healed = true;
    this.evidence.healed = true;
    this.net.heal();
    // Clean links between the validators, as the engine simulation's heal: the after-heal
    // evidence rule needs every half of an equivocation to arrive (a lossy link lost the one half
    // a split sent to one node: tendermint 4-1 seed 12, 7-2 seeds 20 and 21).
    const clean = {
      latency: { kind: "uniform" as const, minMs: 1, maxMs: 10 },
      loss: 0,
      duplicate: 0,
      reorder: 0,
    };
    for (const a of this.slots)
      for (const b of this.slots) if (a !== b) this.net.setLink(a.id, b.id, clean, false);
    for (const s of this.slots) {
      s.hookIn = undefined;
      s.fs.crashAfterOps(undefined);
      if (s.down) this.actions.push({ kind: "up", slot: s });
    }
    await this.runActions();
  }

  async close(): Promise<void> {
    for (const s of this.slots) await s.node?.close().catch(() => {});
  }
}

/** Runs `ConsensusNode`s over a seeded SimNetwork on FaultFs disks; reports the first violated invariant, if any. */
export async function simulateConsensusNodes(o: NodeSimulationOptions): Promise<NodeSimulationResult> {
  const heights = aint(o.heights ?? 3, 1, 1000, "heights");
  const w = new NodeWorld(o);
  const { net, rng } = w;
  const client = new NodeClient(CHAIN_ID, w.users, rng, {
    targets: () => w.slots.flatMap((s) => (s.node === null || s.down ? [] : [s.node])),
    reference: () => best(w.correctNodes()),
  });
  const ids = w.slots.map((s) => s.id);
  let committed = 0;
  let tally: { equivocations: number; withEvidence: number };
  try {
    for (const s of w.slots) await w.open(s);
    client.start(net);
    const faultEnd = net.now + (o.faultMs ?? rng.int(1000, 3000));
    while (net.now < faultEnd && w.checker.violation === undefined) {
      await w.runUntil(() => false, rng.int(100, 500));
      if (ids.length > 1 && rng.chance(0.4)) {
        net.partition([rng.shuffle(ids).slice(0, rng.int(1, ids.length - 1))]);
        w.partitions++;
      } else net.heal();
      if ((o.crashes ?? true) && rng.chance(CRASH_CHANCE)) w.armCrash();
    }
    await w.heal();
    const healAt = net.now;
    const heightNow = () => Math.min(...w.correct.map((s) => (s.down ? 0 : s.reported)));
    const target = Math.max(...w.correct.map((s) => s.height)) + heights;
    const live = await w.runUntil(() => heightNow() >= target, o.livenessMs ?? 60_000);
    if (!live && w.checker.violation === undefined)
      w.checker.fail(
        "liveness",
        `heights ${w.correct.map((s) => `${s.id}:${s.reported}`).join(", ")} after the heal, target ${target}`,
      );
    client.stopNew();
    // Funds: every accepted transfer is in a block by now (no new ones; re-sends go on).
    if (w.checker.violation === undefined) {
      const all = await w.runUntil(() => client.allCommitted(), 30_000);
      if (!all && w.checker.violation === undefined)
        w.checker.fail("funds", `accepted transfers not committed: ${client.pending()}`);
    }
    client.stop();
    if (w.checker.violation === undefined) await checkEvidence(w, healAt);
    committed = client.committedCount(); // read before the ledgers close
  } catch (error) {
    if (!(error instanceof NodeViolation)) throw error;
    w.checker.fail(error.invariant, error.message);
  } finally {
    client.stop();
    tally = w.evidence.tally(w.correctNodes());
    await w.close();
  }
  return resultOf(w, o, client, committed, tally);
}

/** The evidence invariants at the end: each running incarnation, then the equivocations after the heal. */
async function checkEvidence(w: NodeWorld, healAt: number): Promise<void> {
  const until = w.net.now;
  await w.runUntil(() => false, EVIDENCE_DRAIN_MS);
  for (const s of w.correct) {
    if (s.node === null || s.down) continue;
    await s.node.idle();
    w.evidence.checkIncarnation(s.id, s.node, s.received);
  }
  w.evidence.checkAfterHeal(w.correctNodes(), healAt, until);
}

function resultOf(
  w: NodeWorld,
  o: NodeSimulationOptions,
  client: NodeClient,
  committed: number,
  tally: { equivocations: number; withEvidence: number },
): NodeSimulationResult {
  const violation = w.checker.violation;
  const heights = w.correct.map((s) => s.height);
  const damage = w.slots.reduce(
    (sum, s) => sum + s.fs.damage.lost + s.fs.damage.torn + s.fs.damage.zeroed,
    0,
  );
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([...w.checker.byHeight.entries()].sort((a, b) => a[0] - b[0])))
    .digest("hex");
  return {
    seed: o.seed,
    ok: violation === undefined,
    ...(violation !== undefined
      ? { violation: { invariant: violation.invariant, detail: violation.message } }
      : {}),
    minHeight: Math.min(...heights),
    maxHeight: Math.max(...heights),
    simTimeMs: Math.round(w.net.now),
    messages: w.net.stats.delivered,
    partitions: w.partitions,
    crashes: { ...w.crashes },
    damagedWrites: damage,
    submitted: client.accepted,
    committed,
    signatures: w.checker.signatures,
    strategies: w.strategies,
    equivocations: tally.equivocations,
    equivocationsWithEvidence: tally.withEvidence,
    evidenceInBlocks: w.evidence.inBlocks.size,
    slashed: w.evidence.slashed.size,
    hostileMessages: w.hostileMessages,
    fingerprint,
  };
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : JSON.stringify(e);
}

/** The running node with the highest committed height (the client's view of the chain). */
function best(nodes: readonly ConsensusNode[]): ConsensusNode | null {
  let top: ConsensusNode | null = null;
  for (const n of nodes) if (top === null || n.height > top.height) top = n;
  return top;
}

/** The port a node's files go through: its FaultFs, or a broken view of it in a self-test. */
function portOf(fs: FaultFs, selfTest: NodeSelfTest | undefined): FilePort {
  if (selfTest === "wal-no-fsync") return withoutFsyncOf(fs, "consensus.wal");
  if (selfTest === "no-fsync") return withoutFsyncOf(fs, "");
  return fs;
}

/** A port over `port` whose fsyncs of files ending in `suffix` do nothing (the "wal-no-fsync" self-test). */
function withoutFsyncOf(port: FilePort, suffix: string): FilePort {
  const skipped = new Set<number>();
  const wrapped: FilePort = {
    ...wrapPort(port),
    open: (file, flags) => {
      const fd = port.open(file, flags);
      if (file.endsWith(suffix)) skipped.add(fd);
      else skipped.delete(fd);
      return fd;
    },
    fsync: (fd) => {
      if (!skipped.has(fd)) port.fsync(fd);
    },
    fsyncDir: (dir) => {
      if (suffix !== "") port.fsyncDir(dir);
    },
  };
  // The ledger tells a LOCK of an incarnation before a power loss by the port's crash count
  // (store/durable.ts's `generation`): pass it through.
  return Object.defineProperty(wrapped, "crashes", { get: () => (port as { crashes?: number }).crashes });
}

/** 32 seed bytes for key `i` of a run. */
function seedBytes(seed: number, i: number): Uint8Array {
  return createHash("sha256").update(`chaindb node simulation ${seed}/${i}`).digest();
}

function genesisOf(
  keys: readonly KeyPair[],
  users: readonly KeyPair[],
  mode: "tendermint" | "pos" | "dpos",
): ChainGenesis {
  return {
    accounts: [...keys, ...users].map((k) => ({ address: k.publicKey, balance: 1_000_000n })),
    validators: keys.map((k) => ({ address: k.publicKey, stake: 1000n })),
    selection: { mode, maxValidators: keys.length, epochHeights: 4 },
  };
}
