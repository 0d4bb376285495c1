/**
 * The seeded two-phase-commit simulation (in the manner of TigerBeetle's VOPR and FoundationDB's
 * simulation): a coordinator and 3–5 participant banks on a SimNetwork with lossy, duplicating,
 * reordering links and partitions; the coordinator or any participant crashes before any effect
 * of any step (before/after forcing PREPARED, after the decision before sending, mid-broadcast,
 * between apply and COMMITTED) and restarts from its disk. Each node's 2PC log and bank live in
 * a {@link FileTwoPcLog} (the shipping append-log file) on its own fault-injecting file system
 * (store's `FaultFs`, seeded from the run's seed): a crash is a power loss there, so every write
 * not fsynced is lost, torn, zeroed or kept (seeded) before the restart reads the file back, and a
 * missing fsync in the protocol shows up as a violated invariant. Then everything heals and the
 * run checks:
 *
 * 1. atomicity: no transaction is committed at one node and aborted at another (coordinator
 *    included, across incarnations);
 * 2. validity: a transaction commits anywhere only if every participant voted yes;
 * 3. termination: after healing and restarts, no participant is in doubt, no lock is held, the
 *    coordinator has nothing in flight;
 * 4. conservation: across the banks no money was created or destroyed.
 *
 * `bug` swaps in a deliberately broken protocol, so tests can check these checks catch it.
 * @module
 */
import { SimNetwork, type NodeId, type Random, type TraceRecorder } from "../../net/index.ts";
import { Coordinator } from "./coordinator.ts";
import { Participant, type TwoPcResource } from "./participant.ts";
import { FaultFs, SlowFsyncPort, withoutFsync, type FilePort } from "../../store/index.ts";
import { FileTwoPcLog } from "./file-log.ts";
import { LogBank } from "./resources.ts";
import { TwoPcRunner } from "./runner.ts";
import type { TwoPcEffect, TwoPcEvent, TwoPcOp } from "./types.ts";
import { describeTwoPcPayload, traceTwoPcEffect, traceTwoPcViolation } from "./trace.ts";

/** A deliberately broken protocol (for checking the checks). */
export type TwoPcBug = "send-commit-before-force" | "in-doubt-commits-alone" | "no-locks" | "no-fsync";

/** Options of {@link simulateTwoPc}. */
export interface TwoPcSimulationOptions {
  seed: number;
  /** Participants (default 3–5, drawn from the seed). */
  participants?: number;
  /** Transactions started (default 8–16, drawn from the seed). */
  transactions?: number;
  /** Virtual time of the faulty phase (default 3000 ms). */
  durationMs?: number;
  /** Run a broken protocol instead. */
  bug?: TwoPcBug;
  /**
   * Every node's 2PC log with group commit ({@link FileTwoPcLog} `groupCommit`: the fsync runs
   * in the background and a forced record waits for it). Default false.
   */
  groupCommit?: boolean;
  /**
   * Systematic mode: no random faults; `node` ("c" or "p0"…) crashes just before its `effect`-th
   * effect (0-based, counted over its incarnations) and restarts after `restartMs` (default 300).
   */
  crashAt?: { node: NodeId; effect: number; restartMs?: number };
  /** Records the run (network, steps, violation) for `renderTraceHtml`; off when absent. */
  trace?: TraceRecorder;
}

/** What one run found. */
export interface TwoPcSimulationReport {
  seed: number;
  participants: number;
  transactions: number;
  committed: number;
  aborted: number;
  crashes: number;
  virtualMs: number;
  /** Systematic mode: whether the crash point was reached. */
  crashed?: boolean;
  /** Group commit: crashes that hit a node while its log's background fsync ran. */
  crashesMidFsync?: number;
  /** The first invariant violated, if any. */
  violation?: { invariant: string; detail: string };
}

const COORD = "c";
const ACCOUNTS = 3;
const OPENING = 100n;
const CRASHES_MAX = 8;
const SETTLE_ROUNDS_MAX = 64;

/** Runs one seeded simulation and reports the first violated invariant, if any. */
export async function simulateTwoPc(options: TwoPcSimulationOptions): Promise<TwoPcSimulationReport> {
  const run = new TwoPcRun(options);
  try {
    await run.execute();
  } catch (error) {
    run.violate("no exception escapes the simulation", (error as Error).stack ?? String(error));
  }
  return run.report();
}

/** The command line that replays `seed`. */
export function twoPcReplayCommand(seed: number, bug?: TwoPcBug, groupCommit = false): string {
  const flags = `${bug ? ` --bug ${bug}` : ""}${groupCommit ? " --group-commit" : ""}`;
  return `npx chaindb simulate 2pc --seeds ${seed}..${seed}${flags}`;
}

class TwoPcRun {
  readonly net: SimNetwork;
  private readonly random: Random;
  private readonly ids: NodeId[];
  private readonly runners = new Map<NodeId, TwoPcRunner>();
  private readonly cores = new Map<NodeId, Coordinator | Participant>();
  private readonly banks = new Map<NodeId, LogBank>();
  /** Each node's file system (its disk across incarnations) and its open log (until a crash). */
  private readonly disks = new Map<NodeId, FaultFs>();
  private readonly logs = new Map<NodeId, FileTwoPcLog>();
  /** Group commit: each node's log's disk with an fsync that takes virtual time (until a crash). */
  private readonly slowDisks = new Map<NodeId, SlowFsyncPort>();
  private readonly votes = new Map<string, Map<NodeId, Set<boolean>>>();
  private readonly outcomes = new Map<string, Map<NodeId, Set<boolean>>>();
  private readonly members = new Map<string, NodeId[]>();
  private readonly txCount: number;
  private readonly durationMs: number;
  private crashP = 0;
  /** Virtual time a group commit's background fsync takes (0 during set-up and without group commit). */
  private fsyncMs = 0;
  private faulty = true;
  private crashes = 0;
  private crashesMidFsync = 0;
  private readonly effectCounts = new Map<NodeId, number>();
  private violation: { invariant: string; detail: string } | undefined;

  constructor(private readonly options: TwoPcSimulationOptions) {
    this.net = new SimNetwork({
      seed: options.seed,
      settle: () => this.settle(),
      ...(options.trace && { trace: options.trace }),
    });
    options.trace?.setDescriber(describeTwoPcPayload);
    this.random = this.net.random.fork();
    const n = options.participants ?? this.random.int(3, 5);
    this.ids = Array.from({ length: n }, (_, i) => `p${i}`);
    this.txCount = options.transactions ?? this.random.int(8, 16);
    this.durationMs = options.durationMs ?? 3000;
  }

  async execute(): Promise<void> {
    const r = this.random;
    const link = {
      loss: r.pick([0, 0.05, 0.2]),
      duplicate: r.pick([0, 0.1, 0.3]),
      reorder: r.pick([0, 0.2]),
      latency: { kind: "uniform" as const, minMs: 1, maxMs: r.pick([5, 30]) },
    };
    this.crashP = r.pick([0, 0.01, 0.03, 0.08]);
    const fsyncMs = this.options.groupCommit === true ? r.pick([1, 4, 15]) : 0;
    if (this.options.crashAt !== undefined) {
      this.crashP = 0;
      link.loss = 0;
    }
    for (const id of [COORD, ...this.ids]) this.net.addNode(id);
    for (const a of [COORD, ...this.ids])
      for (const b of [COORD, ...this.ids]) if (a < b) this.net.setLink(a, b, link);
    [COORD, ...this.ids].forEach((id, i) => {
      const disk = new FaultFs({ seed: (Math.imul(this.options.seed, 0x9e3779b1) + i + 1) >>> 0 });
      disk.mkdir(`/${id}`);
      this.disks.set(id, disk);
    });
    for (const id of this.ids) {
      const bank = new LogBank(this.logOf(id));
      await bank.open(new Map(Array.from({ length: ACCOUNTS }, (_, i) => [`a${i}`, OPENING])));
    }
    for (const id of [COORD, ...this.ids]) await this.startNode(id);
    this.fsyncMs = fsyncMs; // set-up fsyncs at once; from here on group commit's take virtual time
    this.scheduleWorkload();
    if (this.options.crashAt === undefined) this.scheduleFaults();
    await this.net.runFor(this.durationMs);
    this.faulty = false;
    this.net.heal();
    for (const id of [COORD, ...this.ids]) if (!this.net.node(id).up) await this.restart(id);
    const done = await this.net.runUntil(() => this.violation !== undefined || this.quiescent(), 120_000);
    if (this.violation !== undefined) return;
    this.checkAtomicity();
    if (!done)
      this.violate(
        "termination: after healing every participant decides and releases its locks",
        this.describe(),
      );
    this.checkConservation();
  }

  /** The node's open log, opened from its disk after a restart. */
  private logOf(id: NodeId): FileTwoPcLog {
    let log = this.logs.get(id);
    if (log === undefined) {
      const disk = this.disks.get(id)!;
      let port: FilePort = this.options.bug === "no-fsync" ? withoutFsync(disk) : disk;
      // Group commit's fsync takes virtual time, so crashes land while it runs.
      if (this.options.groupCommit === true) {
        const slow = new SlowFsyncPort(
          port,
          this.net.node(id).clock,
          () => this.fsyncMs,
          () => this.maybeCrashMidFsync(id, slow),
        );
        this.slowDisks.set(id, slow);
        port = slow.port;
      }
      log = FileTwoPcLog.open(`/${id}/2pc.log`, { port, groupCommit: this.options.groupCommit === true });
      this.logs.set(id, log);
    }
    return log;
  }

  private async startNode(id: NodeId): Promise<void> {
    const node = this.net.node(id);
    const log = this.logOf(id);
    const bank = id === COORD ? undefined : new LogBank(log);
    const resource = bank === undefined ? undefined : bankFor(bank, this.options.bug);
    const core =
      resource === undefined
        ? makeCoordinator(this.options.bug)
        : makeParticipant(id, resource, this.options.bug);
    const runner = new TwoPcRunner({
      transport: node.transport,
      clock: node.clock,
      log,
      core,
      ...(resource ? { resource } : {}),
      observer: (n, e) => this.observe(n, e),
      beforeEffect: (n) =>
        !(
          this.faulty &&
          (this.crashPoint(n) || (this.crashes < CRASHES_MAX && this.random.chance(this.crashP)))
        ),
      onCrash: () => this.crash(id),
    });
    this.runners.set(id, runner);
    this.cores.set(id, core);
    if (bank) this.banks.set(id, bank);
    const started = runner.start();
    const slow = this.slowDisks.get(id);
    if (slow === undefined) return started;
    // Recovery may force records: under group commit that takes virtual time, which runs on.
    started.catch((e: Error) => this.violate("restart succeeds", e.stack ?? e.message));
    await Promise.race([started, slow.whenWaiting()]);
  }

  /** Group commit: now and then a crash inside the fsync that just started (a power loss mid-flush). */
  private maybeCrashMidFsync(id: NodeId, slow: SlowFsyncPort): void {
    if (!this.faulty || this.crashes >= CRASHES_MAX || !this.random.chance(this.crashP * 2)) return;
    this.net.clock.setTimer(this.random.int(0, this.fsyncMs - 1), () => {
      if (this.faulty && this.slowDisks.get(id) === slow && slow.fsyncing && this.crashes < CRASHES_MAX)
        this.crash(id);
    });
  }

  private crashPoint(node: NodeId): boolean {
    const at = this.options.crashAt;
    if (at === undefined || at.node !== node) return false;
    const count = this.effectCounts.get(node) ?? 0;
    this.effectCounts.set(node, count + 1);
    return count === at.effect;
  }

  private crash(id: NodeId): void {
    this.crashes++;
    if (this.slowDisks.get(id)?.fsyncing === true) this.crashesMidFsync++;
    this.runners.get(id)!.kill();
    this.net.crash(id);
    this.disks.get(id)!.crash(); // power loss: what was not fsynced is settled at the restart
    this.logs.delete(id);
    this.slowDisks.delete(id);
    const delay = this.options.crashAt?.restartMs ?? this.random.int(20, 1500);
    this.net.clock.setTimer(
      delay,
      () => void this.restart(id).catch((e: Error) => this.violate("restart succeeds", e.stack ?? e.message)),
    );
  }

  private async restart(id: NodeId): Promise<void> {
    if (this.net.node(id).up) return;
    this.disks.get(id)!.restart();
    this.net.restart(id);
    await this.startNode(id);
  }

  private scheduleWorkload(): void {
    for (let i = 0; i < this.txCount; i++) {
      const at = this.random.int(0, this.durationMs - 1);
      const count = this.random.int(2, this.ids.length);
      const members = this.random.shuffle(this.ids).slice(0, count);
      const amount = BigInt(this.random.int(1, 80));
      const plan = new Map<NodeId, TwoPcOp[]>(members.map((p) => [p, []]));
      plan.get(members[0]!)!.push({ account: `a${this.random.int(0, ACCOUNTS - 1)}`, delta: -amount });
      plan.get(members[1]!)!.push({ account: `a${this.random.int(0, ACCOUNTS - 1)}`, delta: amount });
      for (const p of members.slice(2))
        plan.get(p)!.push({ account: `a${this.random.int(0, ACCOUNTS - 1)}`, delta: 0n });
      this.net.clock.setTimer(at, () => {
        if (!this.net.node(COORD).up) return;
        const { tx } = this.runners.get(COORD)!.begin(plan);
        this.members.set(tx, members);
      });
    }
  }

  private scheduleFaults(): void {
    const events = this.random.int(0, 6);
    for (let i = 0; i < events; i++) {
      const at = this.random.int(0, this.durationMs - 1);
      const kind = this.random.pick(["crash", "partition", "heal"] as const);
      const victim = this.random.pick([COORD, ...this.ids]);
      const groups = [
        this.random.shuffle([COORD, ...this.ids]).slice(0, this.random.int(1, this.ids.length)),
      ];
      this.net.clock.setTimer(at, () => {
        if (!this.faulty) return;
        if (kind === "crash" && this.net.node(victim).up && this.crashes < CRASHES_MAX) this.crash(victim);
        else if (kind === "partition") this.net.partition(groups);
        else if (kind === "heal") this.net.heal();
      });
    }
  }

  private readonly lastPrepare = new Map<NodeId, string>();
  private observe(node: NodeId, e: TwoPcEffect): void {
    if (this.options.trace) traceTwoPcEffect(this.options.trace, node, e, this.lastPrepare);
    if (e.kind === "send" && e.message.type === "vote")
      entry(this.votes, e.message.tx, node).add(e.message.yes);
    if (e.kind !== "outcome") return;
    const seen = entry(this.outcomes, e.tx, node);
    seen.add(e.committed);
    const all = new Set<boolean>();
    for (const s of this.outcomes.get(e.tx)!.values()) for (const v of s) all.add(v);
    if (all.size > 1)
      this.violate(
        "atomicity: never committed at one node and aborted at another",
        `${e.tx}: ${this.outcomeText(e.tx)}`,
      );
    if (e.committed) this.checkValidity(e.tx);
  }

  private checkValidity(tx: string): void {
    const members = this.members.get(tx);
    if (members === undefined) return this.violate("validity: only started transactions commit", tx);
    const missing = members.filter((p) => !this.votes.get(tx)?.get(p)?.has(true));
    if (missing.length > 0)
      this.violate(
        "validity: committed only if all voted yes",
        `${tx} committed without a yes from ${missing.join(", ")}`,
      );
  }

  private checkAtomicity(): void {
    for (const [tx, members] of this.members) {
      const committed = this.outcomes.get(tx)?.get(COORD)?.has(true) === true;
      for (const p of members) {
        // A crash between the forced COMMITTED record and its outcome effect hides the outcome from
        // the observer: the participant's recovered state knows it.
        const here =
          this.outcomes.get(tx)?.get(p)?.has(true) === true ||
          (this.cores.get(p) as Participant).outcome(tx) === true;
        if (committed && !here)
          this.violate("atomicity: a commit reaches every participant", `${tx}: ${this.outcomeText(tx)}`);
      }
    }
  }

  private checkConservation(): void {
    let total = 0n;
    for (const bank of this.banks.values()) for (const b of bank.balances().values()) total += b;
    const expected = OPENING * BigInt(ACCOUNTS * this.ids.length);
    if (total !== expected)
      this.violate(
        "conservation: no money created or destroyed across the banks",
        `total ${total}, expected ${expected}`,
      );
  }

  private quiescent(): boolean {
    if (![COORD, ...this.ids].every((id) => this.net.node(id).up)) return false;
    if ((this.cores.get(COORD) as Coordinator).inFlight > 0) return false;
    return this.ids.every(
      (id) => (this.cores.get(id) as Participant).inDoubt.length === 0 && this.banks.get(id)!.locksHeld === 0,
    );
  }

  private async settle(): Promise<void> {
    // A node waiting on a group commit's fsync is quiet: only virtual time can finish it. A
    // crashed node's runner is dead (its fsync's timer was cancelled, so it may never go idle).
    const live = () => [...this.runners].filter(([id]) => this.net.node(id).up);
    const quiet = (id: NodeId, r: TwoPcRunner) => !r.busy || this.slowDisks.get(id)?.fsyncing === true;
    for (let i = 0; i < SETTLE_ROUNDS_MAX; i++) {
      const tails = live().map(([id, r]) => {
        const slow = this.slowDisks.get(id);
        return slow === undefined ? r.idle() : Promise.race([r.idle(), slow.whenWaiting()]);
      });
      await Promise.all(tails).catch((error: Error) =>
        this.violate("no internal check fails", error.stack ?? error.message),
      );
      if (live().every(([id, r]) => quiet(id, r))) return;
    }
  }

  private outcomeText(tx: string): string {
    const m = this.outcomes.get(tx);
    return m === undefined
      ? "no outcomes"
      : [...m].map(([n, s]) => `${n}:${[...s].map((c) => (c ? "commit" : "abort")).join("+")}`).join(" ");
  }

  private describe(): string {
    const c = this.cores.get(COORD) as Coordinator;
    const parts = this.ids.map(
      (id) =>
        `${id} ${this.net.node(id).up ? "up" : "down"} in-doubt [${(this.cores.get(id) as Participant).inDoubt.join(",")}] locks ${this.banks.get(id)!.locksHeld}`,
    );
    return `c ${this.net.node(COORD).up ? "up" : "down"} in-flight ${c.inFlight}; ${parts.join("; ")}`;
  }

  violate(invariant: string, detail: string): void {
    if (this.violation === undefined && this.options.trace)
      traceTwoPcViolation(this.options.trace, invariant, detail, [COORD, ...this.ids], this.members.keys());
    this.violation ??= { invariant, detail };
  }

  report(): TwoPcSimulationReport {
    let committed = 0;
    let aborted = 0;
    for (const tx of this.members.keys()) {
      const c = this.outcomes.get(tx)?.get(COORD);
      if (c?.has(true)) committed++;
      else aborted++;
    }
    const report: TwoPcSimulationReport = {
      seed: this.options.seed,
      participants: this.ids.length,
      transactions: this.members.size,
      committed,
      aborted,
      crashes: this.crashes,
      virtualMs: this.net.now,
    };
    if (this.options.crashAt !== undefined) report.crashed = this.crashes > 0;
    if (this.options.groupCommit === true) report.crashesMidFsync = this.crashesMidFsync;
    if (this.violation !== undefined) report.violation = this.violation;
    return report;
  }
}

function entry(map: Map<string, Map<NodeId, Set<boolean>>>, tx: string, node: NodeId): Set<boolean> {
  let m = map.get(tx);
  if (m === undefined) map.set(tx, (m = new Map<NodeId, Set<boolean>>()));
  let s = m.get(node);
  if (s === undefined) m.set(node, (s = new Set()));
  return s;
}

/** The coordinator, or a broken one that sends COMMIT before its record is durable. */
function makeCoordinator(bug: TwoPcBug | undefined): Coordinator {
  const core = new Coordinator(COORD, { voteTimeoutMs: 1500, retryMs: 100 });
  if (bug !== "send-commit-before-force") return core;
  const handle = core.handle.bind(core);
  core.handle = (event: TwoPcEvent) => {
    const effects = handle(event);
    return [...effects.filter((e) => e.kind !== "force"), ...effects.filter((e) => e.kind === "force")];
  };
  return core;
}

/** The bank, or a broken one that takes no locks (its after-images race: lost updates). */
function bankFor(bank: LogBank, bug: TwoPcBug | undefined): TwoPcResource {
  if (bug !== "no-locks") return bank;
  return {
    tryPrepare: (tx, ops) => {
      const verdict = bank.tryPrepare(tx, ops);
      bank.release(tx);
      return verdict;
    },
    restore: () => {},
    apply: (tx, writes) => {
      bank.restore(tx, writes);
      bank.apply(tx, writes);
      bank.release(tx);
    },
    release: () => {},
    get locksHeld() {
      return bank.locksHeld;
    },
  };
}

/** A participant, or a broken one that decides alone when in doubt. */
function makeParticipant(id: NodeId, resource: TwoPcResource, bug: TwoPcBug | undefined): Participant {
  const core = new Participant(id, resource, { coordinators: [COORD], inquireMs: 100 });
  if (bug !== "in-doubt-commits-alone") return core;
  const handle = core.handle.bind(core);
  core.handle = (event: TwoPcEvent) =>
    event.kind === "timeout" && core.inDoubt.includes(event.tx)
      ? handle({ kind: "message", from: COORD, message: { type: "commit", tx: event.tx } })
      : handle(event);
  return core;
}
