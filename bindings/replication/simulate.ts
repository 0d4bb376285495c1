/**
 * The seeded single-primary simulation (in the manner of TigerBeetle's VOPR and FoundationDB's
 * simulation tests): a cluster of replicas with real ledgers runs on a SimNetwork with lossy,
 * duplicating, reordering links while a client submits transfers and a fault schedule crashes
 * the primary at random points, partitions it away, crashes backups and restarts nodes from
 * their disks: each replica keeps its files (the shipping {@link FileReplicaStore}: append-log
 * entries, the epoch/vote record) on its own seeded fault-injecting file system (`FaultFs`), where
 * a crash is a power loss that loses, tears, zeroes or keeps every write not fsynced. Then every
 * fault heals and the run checks:
 *
 * 1. no two primaries commit in the same epoch;
 * 2. every height holds the same block on every replica that applied it;
 * 3. no replica applies a block twice or out of order, and no internal assertion fails;
 * 4. every write acknowledged in sync mode is in the final log at its acknowledged height;
 * 5. after healing, all replicas converge to one height and one state root.
 *
 * Everything derives from the seed: a failure replays exactly.
 * @module
 */
import { createHash } from "node:crypto";
import { Ledger, keyPairFromSeed, signTransfer, type KeyPair } from "../chain/index.ts";
import { SimNetwork, type Clock, type NodeId, type Random, type TraceRecorder } from "../net/index.ts";
import { toHex } from "../util/index.ts";
import { Replica, NotPrimaryError } from "./replica.ts";
import { FaultFs, SlowFsyncPort, withoutFsync, type FilePort } from "../store/index.ts";
import { FileReplicaStore } from "./store.ts";
import type { ReplicaEffect, ReplicationMode } from "./types.ts";
import { describeReplicaPayload, traceReplicaEffect, traceReplicaViolation } from "./trace.ts";

/** Options of {@link simulatePrimary}. */
export interface PrimarySimulationOptions {
  seed: number;
  /** Replication mode (default: drawn from the seed, two thirds sync). */
  mode?: ReplicationMode;
  /** Number of replicas (default: 3 or 5, drawn from the seed). */
  nodes?: number;
  /** Virtual time of the faulty phase (default 5000 ms). */
  durationMs?: number;
  /** Records the run (network, commits, violation) for `renderTraceHtml`; off when absent. */
  trace?: TraceRecorder;
  /** Checker self-test: "no-fsync" gives every replica a disk whose fsyncs do nothing. Never set in a real run. */
  selfTest?: "no-fsync";
  /**
   * Every replica's store with group commit ({@link FileReplicaStore} `groupCommit`: the log's
   * fsync runs in the background and overlapping appends share it). Default false.
   */
  groupCommit?: boolean;
}

/** What one simulated run found. */
export interface SimulationReport {
  seed: number;
  mode: ReplicationMode;
  nodes: number;
  /** The first invariant violated, if any. */
  violation?: { invariant: string; detail: string };
  /** Final committed height, epochs used, acknowledged writes, faults injected, virtual ms. */
  height: number;
  epochs: number;
  acked: number;
  faults: number;
  virtualMs: number;
  /** Proof-of-work runs: reorganisations seen by the nodes, transfers on the final chain. */
  reorgs?: number;
  transfers?: number;
  /** SHA-256 over the committed blocks and final states: equal for a replayed seed. */
  fingerprint?: string;
  /** Group commit: crashes that hit a replica while its log's background fsync ran. */
  crashesMidFsync?: number;
}

const CHAIN_ID = 7;
const ACCOUNTS = 12;
const TRANSFERS_PER_ACCOUNT = 40;
let fixture: { keys: KeyPair[]; transfers: Uint8Array[][] } | undefined;

/** Accounts and their pre-signed transfers (signed once per process; each run starts from genesis). */
function getFixture(): { keys: KeyPair[]; transfers: Uint8Array[][] } {
  if (fixture !== undefined) return fixture;
  const keys = Array.from({ length: ACCOUNTS }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
  const transfers = keys.map((k, i) =>
    Array.from({ length: TRANSFERS_PER_ACCOUNT }, (_, n) =>
      signTransfer(k, {
        chainId: CHAIN_ID,
        to: keys[(i + 1 + (n % (ACCOUNTS - 1))) % ACCOUNTS]!.publicKey,
        amount: 1 + n,
        fee: 1,
        nonce: n,
      }),
    ),
  );
  return (fixture = { keys, transfers });
}

/** Runs one seeded simulation and reports the first violated invariant, if any. */
export async function simulatePrimary(options: PrimarySimulationOptions): Promise<SimulationReport> {
  const run = new PrimaryRun(options);
  try {
    await run.execute();
  } catch (error) {
    run.violate("no exception escapes the simulation", (error as Error).stack ?? String(error));
  }
  return run.report();
}

class PrimaryRun {
  readonly net: SimNetwork;
  readonly random: Random;
  readonly mode: ReplicationMode;
  readonly ids: NodeId[];
  readonly replicas = new Map<NodeId, Replica>();
  readonly durationMs: number;
  /** Virtual time a group commit's background fsync takes (drawn when group commit is on). */
  private fsyncMs = 0;
  private crashesMidFsync = 0;
  /** Group commit: each replica's disk with an fsync that takes virtual time (per incarnation). */
  private readonly slowDisks = new Map<NodeId, SlowFsyncPort>();
  violation: { invariant: string; detail: string } | undefined;
  private readonly committedBy = new Map<number, NodeId>();
  private readonly blockAt = new Map<number, string>();
  private readonly acked: { height: number; transfer: Uint8Array }[] = [];
  private readonly cursor: number[] = new Array<number>(ACCOUNTS).fill(0);
  private readonly busy = new Set<number>();
  private target: NodeId;
  private clientOn = true;
  private faults = 0;
  // While true, a node may also crash between two effects of one event (after a write, before
  // the message that depends on it), not only between events.
  private crashMidEvent = true;
  /** Each node's disk: a seeded fault-injecting file system holding its replica files. */
  private readonly disks = new Map<NodeId, FaultFs>();

  constructor(private readonly options: PrimarySimulationOptions) {
    const seed = options.seed;
    this.net = new SimNetwork({
      seed,
      link: {
        latency: { kind: "exponential", minMs: 1, meanMs: 4 },
        loss: 0.02,
        duplicate: 0.02,
        reorder: 0.05,
        reorderDelayMs: 30,
      },
      settle: () => this.settle(),
      ...(options.trace && { trace: options.trace }),
    });
    options.trace?.setDescriber(describeReplicaPayload);
    this.random = this.net.random.fork();
    this.mode = options.mode ?? (this.random.int(0, 2) < 2 ? "sync" : "async");
    const n = options.nodes ?? (this.random.chance(0.2) ? 5 : 3);
    this.ids = Array.from({ length: n }, (_, i) => `n${i}`);
    this.durationMs = options.durationMs ?? 5000;
    if (options.groupCommit === true) this.fsyncMs = this.random.pick([1, 4, 15]);
    this.target = this.ids[0]!;
  }

  violate(invariant: string, detail: string): void {
    if (this.violation === undefined && this.options.trace)
      traceReplicaViolation(this.options.trace, invariant, detail, this.ids);
    this.violation ??= { invariant, detail };
  }

  async execute(): Promise<void> {
    for (const id of this.ids) this.net.addNode(id);
    this.ids.forEach((id, i) =>
      this.disks.set(id, new FaultFs({ seed: (Math.imul(this.options.seed, 0x9e3779b1) + i + 1) >>> 0 })),
    );
    for (const id of this.ids) await this.boot(id);
    this.client();
    const end = this.net.now + this.durationMs;
    // Bounded: each round advances virtual time by at least 20 ms.
    while (this.net.now < end && this.violation === undefined) {
      await this.net.runFor(this.random.int(20, 400));
      await this.injectFault();
    }
    await this.healEverything();
    this.clientOn = false;
    const converged = await this.net.runUntil(() => this.violation !== undefined || this.converged(), 60_000);
    if (this.violation !== undefined) return;
    if (!converged) return this.violate("replicas converge after healing", this.describe());
    this.checkFinal();
  }

  /** The replica's disk as its store sees it: broken by the no-fsync self-test, slow to fsync under group commit. */
  private portOf(id: NodeId, clock: Clock): FilePort {
    const disk = this.disks.get(id)!;
    const port = this.options.selfTest === "no-fsync" ? withoutFsync(disk) : disk;
    if (this.options.groupCommit !== true) return port;
    // Group commit's fsync takes virtual time, so crashes land while it runs.
    const slow = new SlowFsyncPort(port, clock, () => this.fsyncMs);
    this.slowDisks.set(id, slow);
    return slow.port;
  }

  private async boot(id: NodeId): Promise<void> {
    const node = this.net.node(id);
    const genesis = getFixture().keys.map((k) => ({ address: k.publicKey, balance: 1_000_000n }));
    const ledger = await Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" });
    const replica = await Replica.open({
      id,
      config: {
        nodes: this.ids,
        mode: this.mode,
        heartbeatMs: 50,
        electionTimeoutMs: 300,
        blockIntervalMs: 20,
      },
      transport: node.transport,
      clock: node.clock,
      random: node.random,
      store: new FileReplicaStore(`/${id}`, this.portOf(id, node.clock), {
        groupCommit: this.options.groupCommit === true,
      }),
      ledger,
      proposer: new Uint8Array(createHash("sha256").update(id).digest()),
      onEffect: (e) => this.observe(id, e),
    });
    this.replicas.set(id, replica);
  }

  private observe(id: NodeId, e: ReplicaEffect): void {
    if (this.options.trace) traceReplicaEffect(this.options.trace, id, e);
    if (
      this.crashMidEvent &&
      (e.kind === "persist" || e.kind === "send" || e.kind === "apply") &&
      this.net.node(id).up &&
      this.random.chance(0.002)
    ) {
      this.crash(id);
      return;
    }
    if (e.kind === "committed") {
      const other = this.committedBy.get(e.epoch);
      if (other !== undefined && other !== id)
        this.violate("no two primaries commit in the same epoch", `epoch ${e.epoch}: ${other} and ${id}`);
      this.committedBy.set(e.epoch, id);
    } else if (e.kind === "apply") {
      const digest = `${e.entry.epoch}:${toHex(createHash("sha256").update(e.entry.proposer).update(e.entry.transfers).digest())}`;
      const seen = this.blockAt.get(e.height);
      if (seen !== undefined && seen !== digest)
        this.violate(
          "every replica applies the same block at a height",
          `height ${e.height} on ${id}: ${digest} vs ${seen}`,
        );
      this.blockAt.set(e.height, digest);
    }
  }

  /** The client: every few ms submits the next transfer of an idle account to the node it believes is primary. */
  private client(): void {
    if (!this.clientOn) return;
    this.net.clock.setTimer(this.random.int(3, 20), () => this.client());
    const account = this.random.int(0, ACCOUNTS - 1);
    if (this.busy.has(account) || this.cursor[account]! >= TRANSFERS_PER_ACCOUNT) return;
    const replica = this.replicas.get(this.target);
    if (replica === undefined || !this.net.node(this.target).up)
      return void (this.target = this.random.pick(this.ids));
    const transfer = getFixture().transfers[account]![this.cursor[account]!]!;
    this.busy.add(account);
    replica.submit(transfer).then(
      (r) => {
        this.busy.delete(account);
        this.cursor[account]!++;
        if (this.mode === "sync") this.acked.push({ height: r.height, transfer });
      },
      (error: unknown) => {
        this.busy.delete(account);
        if (error instanceof NotPrimaryError) this.target = error.primary ?? this.random.pick(this.ids);
        else this.target = this.random.pick(this.ids);
      },
    );
  }

  private primaryId(): NodeId | undefined {
    return [...this.replicas.values()].find((r) => this.net.node(r.id).up && r.status().role === "primary")
      ?.id;
  }

  private async injectFault(): Promise<void> {
    const down = this.ids.filter((id) => !this.net.node(id).up);
    const up = this.ids.filter((id) => this.net.node(id).up);
    const roll = this.random.int(0, 99);
    const primary = this.primaryId();
    if (roll < 15 && primary !== undefined) {
      this.crash(primary);
    } else if (roll < 25 && up.length > 0) {
      this.crash(this.random.pick(up));
    } else if (roll < 45 && down.length > 0) {
      await this.restart(this.random.pick(down));
    } else if (roll < 55 && primary !== undefined) {
      this.net.partition([[primary]]); // the primary alone; everyone else together
      this.faults++;
    } else if (roll < 62) {
      const shuffled = this.random.shuffle(this.ids);
      this.net.partition([shuffled.slice(0, this.random.int(1, this.ids.length - 1))]);
      this.faults++;
    } else if (roll < 75) {
      this.net.heal();
    }
  }

  private crash(id: NodeId): void {
    if (this.slowDisks.get(id)?.fsyncing === true) this.crashesMidFsync++;
    this.net.crash(id);
    this.disks.get(id)!.crash(); // power loss: what was not fsynced is settled at the restart
    void this.replicas.get(id)?.close();
    this.faults++;
  }

  private async restart(id: NodeId): Promise<void> {
    this.disks.get(id)!.restart();
    this.net.restart(id);
    await this.boot(id);
  }

  private async healEverything(): Promise<void> {
    this.crashMidEvent = false;
    this.net.heal();
    for (const id of this.ids) if (!this.net.node(id).up) await this.restart(id);
  }

  private converged(): boolean {
    const statuses = [...this.replicas.values()].map((r) => r.status());
    const primaries = statuses.filter((s) => s.role === "primary");
    if (primaries.length !== 1) return false;
    const top = primaries[0]!;
    return statuses.every(
      (s) =>
        s.epoch === top.epoch &&
        s.applied === top.lastHeight &&
        s.lastHeight === top.lastHeight &&
        toHex(s.root) === toHex(top.root),
    );
  }

  private checkFinal(): void {
    const any = [...this.replicas.values()][0]!;
    for (const { height, transfer } of this.acked) {
      const entry = any.entry(height);
      if (entry === undefined || !containsTransfer(entry.transfers, transfer)) {
        return this.violate(
          "every write acknowledged in sync mode survives",
          `acked at height ${height}, missing from the final log`,
        );
      }
    }
  }

  private async settle(): Promise<void> {
    for (const r of this.replicas.values()) {
      const slow = this.slowDisks.get(r.id);
      // A replica waiting on a group commit's fsync is quiet: only virtual time can finish it.
      await (slow === undefined ? r.idle() : Promise.race([r.idle(), slow.whenWaiting()])).catch(
        (error: Error) => this.violate("replicas never fail an internal check", `${r.id}: ${error.message}`),
      );
    }
  }

  private describe(): string {
    return [...this.replicas.values()]
      .map((r) => {
        const s = r.status();
        return `${s.id} ${this.net.node(s.id).up ? "up" : "down"} ${s.role} epoch ${s.epoch} log ${s.lastHeight} commit ${s.commit} applied ${s.applied}`;
      })
      .join("; ");
  }

  report(): SimulationReport {
    const statuses = [...this.replicas.values()].map((r) => r.status());
    return {
      seed: this.options.seed,
      mode: this.mode,
      nodes: this.ids.length,
      ...(this.violation !== undefined ? { violation: this.violation } : {}),
      height: Math.max(0, ...statuses.map((s) => s.commit)),
      epochs: Math.max(0, ...statuses.map((s) => s.epoch)),
      acked: this.acked.length,
      faults: this.faults,
      virtualMs: Math.round(this.net.now),
      ...(this.options.groupCommit === true ? { crashesMidFsync: this.crashesMidFsync } : {}),
      fingerprint: createHash("sha256")
        .update(
          JSON.stringify([
            [...this.blockAt],
            statuses.map((st) => [st.id, st.role, st.epoch, st.lastHeight, toHex(st.root)]),
          ]),
        )
        .digest("hex"),
    };
  }
}

function containsTransfer(transfers: Uint8Array, transfer: Uint8Array): boolean {
  const hex = toHex(transfer);
  for (let at = 0; at < transfers.length; at += 157)
    if (toHex(transfers.subarray(at, at + 157)) === hex) return true;
  return false;
}
