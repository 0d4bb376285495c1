/**
 * Consensus benchmark: Tendermint blocks per second, transactions per second (blocks carrying the
 * bytes of 1,000 packed transfers — consensus cost only: signing, verifying, hashing and moving the
 * block; the transfers are not executed) and commit latency p50/p99, for 4, 7, 13, 21 and 49
 * validators on the SimNetwork with zero link latency (the protocol's own CPU cost), all up and with
 * one validator down. The growth with the set size is the speed-versus-security trade-off: n
 * validators tolerate f = ⌊(n−1)/3⌋ faulty ones, and each height costs O(n²) signed messages to
 * verify and, with relaying, O(n³) deliveries; the last group measures the same sets with votes not
 * relayed (`relayVotes: false`), so the price of the paper's gossip is visible.
 *
 * The 4- and 7-validator cases also run over TCP on loopback (`TcpTransport`, every validator in
 * this process with its own fsynced `FileWal`, real timeouts), each right after the same case on
 * the SimNetwork, with the ratio TCP / SimNetwork: the price of sockets, framing and the WAL.
 *
 * Throughput and latency are wall-clock; the SimNetwork "down" cases also report simulated time per
 * block (rounds whose proposer is down wait for timeoutPropose; over TCP that wait is real time).
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyPairFromSeed, PACKED_TRANSFER_SIZE, type KeyPair } from "../bindings/chain/index.ts";
import {
  FileWal,
  TendermintEngine,
  ValidatorSet,
  cachingVerifier,
  decodeMessage,
  driveTendermint,
  encodeMessage,
  type ConsensusEvent,
  type Effect,
  type Verifier,
} from "../bindings/consensus/index.ts";
import type { ProtocolDriver } from "../bindings/protocol/index.ts";
import {
  SimNetwork,
  TcpTransport,
  nodeKeyFromSeed,
  type NodeKey,
  type SimNode,
} from "../bindings/net/index.ts";
import {
  caseFromSamples,
  median,
  percentile,
  suiteResult,
  type CaseResult,
  type SuiteOptions,
  type SuiteResult,
} from "./lib.ts";
import { secureChannelCases } from "./secure-channel.ts";

const TRANSFERS_PER_BLOCK = 1000;
/** Gossip tick of the TCP validators (re-sends when stuck), as ConsensusNode's default. */
const TICK_MS = 200;
/** Most wall-clock time a TCP run may take before the suite fails instead of hanging. */
const TCP_RUN_MAX_MS = 120_000;

interface RunStats {
  blocksPerSecond: number;
  latenciesMs: number[];
  simMsPerBlock: number;
  /** fsyncs of every validator's WAL per committed block (TCP; 0 on the SimNetwork). */
  fsyncsPerBlock: number;
}

/** Validator keys in set order (index i signs as validator i), and the set of equal powers. */
function validators(n: number): { keys: KeyPair[]; set: ValidatorSet } {
  const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
  const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
  keys.sort((a, b) => set.indexOf(a.publicKey) - set.indexOf(b.publicKey));
  return { keys, set };
}

/**
 * What one run has committed: when each height was first proposed and how many live validators
 * decided it; the latency of a height ends at its commit on the last live validator.
 */
class Progress {
  readonly latenciesMs: number[] = [];
  private readonly proposedAt = new Map<number, number>();
  private readonly decidedBy = new Map<number, number>();
  private readonly payload = new Uint8Array(TRANSFERS_PER_BLOCK * PACKED_TRANSFER_SIZE).map(
    (_, i) => (i * 31) & 255,
  );

  constructor(
    private readonly live: number,
    private readonly blocks: number,
    private readonly onDone: () => void = () => {},
  ) {}

  /** The engine's buildValue: the payload, made unique per height and round. */
  readonly buildValue = (height: number, round: number): Uint8Array => {
    if (!this.proposedAt.has(height)) this.proposedAt.set(height, performance.now());
    const value = this.payload.slice();
    value[0] = height & 255;
    value[1] = round & 255;
    return value;
  };

  /** A live validator decided `height`. */
  decided(height: number): void {
    const count = (this.decidedBy.get(height) ?? 0) + 1;
    this.decidedBy.set(height, count);
    if (count !== this.live) return;
    this.latenciesMs.push(performance.now() - this.proposedAt.get(height)!);
    if (height === this.blocks) this.onDone();
  }

  /** True once every live validator has decided the last height. */
  get done(): boolean {
    return (this.decidedBy.get(this.blocks) ?? 0) >= this.live;
  }
}

/** Commits `blocks` heights with `n` validators on the SimNetwork (`down` of them crashed from the start). */
async function runCluster(n: number, down: number, blocks: number, relayVotes = true): Promise<RunStats> {
  const { keys, set } = validators(n);
  const net = new SimNetwork({
    seed: 7,
    link: { latency: { kind: "fixed", ms: 0 } },
    settle: "microtask",
    eventsMax: 50_000_000,
  });
  const verifier = cachingVerifier(1 << 18); // one process: each signature is checked once
  const progress = new Progress(n - down, blocks);
  const nodes: SimNode[] = [];
  const engines: TendermintEngine[] = [];
  const drivers: ProtocolDriver<ConsensusEvent, Effect>[] = [];
  for (let i = 0; i < n; i++) {
    nodes.push(net.addNode(`v${i}`));
    engines.push(
      new TendermintEngine({
        chainId: "bench",
        validators: set,
        key: keys[i]!,
        verifier,
        relayVotes,
        buildValue: progress.buildValue,
      }),
    );
    drivers.push(
      driveTendermint(engines[i]!, {
        broadcast: (message) => nodes[i]!.transport.broadcast(encodeMessage(message)),
        send: (to, message) => nodes[i]!.transport.send(`v${to}`, encodeMessage(message)),
        setTimer: (delayMs, fire) => void nodes[i]!.clock.setTimer(delayMs, fire),
        decide: (height) => progress.decided(height),
      }),
    );
  }
  for (let i = 0; i < n; i++)
    nodes[i]!.transport.setHandler({
      onMessage: (from, bytes) =>
        void drivers[i]!.push({
          kind: "message",
          from: Number(from.slice(1)),
          message: decodeMessage(bytes),
        }),
    });
  for (let i = 0; i < down; i++) net.crash(`v${n - 1 - i}`);
  const t0 = performance.now();
  const sim0 = net.now;
  for (let i = 0; i < n - down; i++) drivers[i]!.pushEffects(engines[i]!.start());
  if (!(await net.runUntil(() => progress.done, 600_000)))
    throw new Error(`consensus bench: ${blocks} blocks not committed with n=${n}, down=${down}`);
  const seconds = (performance.now() - t0) / 1000;
  return {
    blocksPerSecond: blocks / seconds,
    latenciesMs: progress.latenciesMs,
    simMsPerBlock: (net.now - sim0) / blocks,
    fsyncsPerBlock: 0,
  };
}

/** One validator over TCP, driven as ConsensusNode drives its engine: WAL first, then sends, real timers. */
class TcpValidator {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;
  /** Carries out effects in order: a synced record is on disk before any later send. */
  private readonly driver: ProtocolDriver<ConsensusEvent, Effect>;

  constructor(
    private readonly engine: TendermintEngine,
    private readonly transport: TcpTransport,
    private readonly wal: FileWal,
    private readonly progress: Progress,
    /** False: records are appended but never fsynced (to show the fsync's share of the cost). */
    private readonly fsync: boolean,
  ) {
    this.driver = driveTendermint(engine, {
      persist: (record, sync) => this.wal.append(record, sync && this.fsync),
      broadcast: (message) => this.transport.broadcast(encodeMessage(message)),
      send: (to, message) => this.transport.send(`v${to}`, encodeMessage(message)),
      setTimer: (delayMs, fire) => this.later(delayMs, fire),
      decide: (height) => this.progress.decided(height),
    });
    transport.setHandler({
      onMessage: (from, bytes) =>
        void this.driver.push({
          kind: "message",
          from: Number(from.slice(1)),
          message: decodeMessage(bytes),
        }),
    });
  }

  /** Starts the gossip tick and carries out the engine's first effects (round 0 of height 1). */
  start(): void {
    this.tick();
    this.driver.pushEffects(this.engine.start());
  }

  private tick(): void {
    this.later(TICK_MS, () => (this.driver.push({ kind: "tick" }), this.tick()));
  }

  private later(delayMs: number, fn: () => void): void {
    const timer = setTimeout(() => (this.timers.delete(timer), this.closed || fn()), delayMs);
    this.timers.add(timer);
  }

  /** fsyncs issued so far. */
  get fsyncs(): number {
    return this.wal.syncs;
  }

  /** Cancels every timer, closes the transport and the WAL (the process must be able to exit). */
  async close(): Promise<void> {
    this.closed = true;
    this.driver.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.transport.close();
    this.wal.close();
  }
}

/**
 * Starts the transports of the live validators on loopback and resolves once each sees every
 * other live one. The smaller id dials, so they start from the largest id and every dialer knows
 * its acceptors' ports; a down validator never starts, and its peers know its key but no address.
 */
async function startTransports(
  ids: readonly string[],
  live: number,
  nodeKeys: readonly NodeKey[],
  started: TcpTransport[],
): Promise<TcpTransport[]> {
  const ports = new Map<string, number>();
  const byId = new Map<string, TcpTransport>();
  for (const id of ids.slice(0, live).sort().reverse()) {
    const peers = ids
      .filter((p) => p !== id)
      .map((p) => ({
        id: p,
        publicKey: nodeKeys[ids.indexOf(p)]!.publicKey,
        ...(ports.has(p) ? { host: "127.0.0.1", port: ports.get(p)! } : {}),
      }));
    const t = await TcpTransport.start({
      id,
      key: nodeKeys[ids.indexOf(id)]!,
      listen: { host: "127.0.0.1", port: 0 },
      peers,
      network: "chaindb-bench-consensus",
    });
    started.push(t);
    ports.set(id, t.address!.port);
    byId.set(id, t);
  }
  const transports = ids.slice(0, live).map((id) => byId.get(id)!);
  // A message sent before its link is up is dropped (then re-sent only by the tick): wait for all.
  const connected = () =>
    transports.every((t) => ids.slice(0, live).every((p) => p === t.self || t.isConnected(p)));
  const end = performance.now() + 10_000;
  while (!connected()) {
    if (performance.now() > end) throw new Error(`consensus bench: ${live} TCP validators did not connect`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return transports;
}

/** Commits `blocks` heights with `n` validators over TCP on loopback (`down` of them never started); exported for side-by-side runs. */
export async function runTcpCluster(
  n: number,
  down: number,
  blocks: number,
  fsync = true,
): Promise<RunStats> {
  const { keys, set } = validators(n);
  const live = n - down;
  const ids = keys.map((_, i) => `v${i}`);
  const nodeKeys = ids.map((_, i) => nodeKeyFromSeed(new Uint8Array(32).fill(i + 100)));
  const verifier: Verifier = cachingVerifier(1 << 18); // as on the SimNetwork: each signature checked once
  const dir = mkdtempSync(join(tmpdir(), "chaindb-bench-consensus-"));
  const started: TcpTransport[] = [];
  const validatorsUp: TcpValidator[] = [];
  let bound: ReturnType<typeof setTimeout> | undefined;
  try {
    const transports = await startTransports(ids, live, nodeKeys, started);
    let finish = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const progress = new Progress(live, blocks, () => finish());
    for (let i = 0; i < live; i++) {
      const engine = new TendermintEngine({
        chainId: "bench",
        validators: set,
        key: keys[i]!,
        verifier,
        buildValue: progress.buildValue,
      });
      validatorsUp.push(
        new TcpValidator(engine, transports[i]!, FileWal.open(join(dir, `${ids[i]}.wal`)), progress, fsync),
      );
    }
    const timedOut = new Promise<never>(
      (_, reject) =>
        (bound = setTimeout(
          () =>
            reject(
              new Error(`consensus bench: ${blocks} blocks not committed over TCP with n=${n}, down=${down}`),
            ),
          TCP_RUN_MAX_MS,
        )),
    );
    const t0 = performance.now();
    for (const v of validatorsUp) v.start();
    await Promise.race([finished, timedOut]);
    const seconds = (performance.now() - t0) / 1000;
    const fsyncs = validatorsUp.reduce((sum, v) => sum + v.fsyncs, 0);
    return {
      blocksPerSecond: blocks / seconds,
      latenciesMs: progress.latenciesMs,
      simMsPerBlock: NaN,
      fsyncsPerBlock: fsyncs / blocks,
    };
  } finally {
    clearTimeout(bound);
    await Promise.all(validatorsUp.map((v) => v.close()));
    await Promise.all(started.map((t) => t.close())); // a no-op for those closed above
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The cases of one (network, set size, validators down) measurement; SimNetwork ids are unprefixed. */
function clusterCases(
  net: "sim" | "tcp",
  n: number,
  down: number,
  blocks: number,
  samples: RunStats[],
  fsync = true,
): CaseResult[] {
  const size = down === 0 ? `${n}` : `${n}-down`;
  const tag = net === "sim" ? size : fsync ? `tcp-${size}` : `tcp-nofsync-${size}`;
  const params: Record<string, string | number> = {
    network: net,
    validators: n,
    down,
    tolerates: Math.floor((n - 1) / 3),
    blocks,
  };
  if (net === "tcp") {
    params.wal = fsync ? "fsync" : "no fsync";
    params.fsyncsPerBlock = median(samples.map((s) => s.fsyncsPerBlock));
  }
  const where = net === "sim" ? "SimNetwork" : fsync ? "TCP loopback" : "TCP loopback, WAL not fsynced";
  const group = `${where}: ${down === 0 ? "all validators up" : "one validator down"}`;
  const name = `${net === "sim" ? "sim" : fsync ? "TCP" : "TCP, no fsync"}, ${n} validators${down ? ", 1 down" : ""}`;
  // Over TCP the baseline is the same set on the SimNetwork (the price of sockets and the WAL).
  const baseline =
    net === "sim"
      ? down === 0 && n !== 4
        ? "blocks-4"
        : undefined
      : fsync
        ? `blocks-${size}`
        : `blocks-tcp-${size}`;
  const lat = samples.flatMap((s) => s.latenciesMs);
  const cases = [
    caseFromSamples(
      `blocks-${tag}`,
      `${name}: blocks/s`,
      group,
      "blocks/s",
      samples.map((s) => s.blocksPerSecond),
      params,
      baseline,
    ),
    caseFromSamples(
      `tx-${tag}`,
      `${name}: tx/s`,
      group,
      "tx/s",
      samples.map((s) => s.blocksPerSecond * TRANSFERS_PER_BLOCK),
      params,
    ),
    caseFromSamples(`p50-${tag}`, `${name}: commit latency p50`, group, "ms", [percentile(lat, 50)], params),
    caseFromSamples(`p99-${tag}`, `${name}: commit latency p99`, group, "ms", [percentile(lat, 99)], params),
  ];
  if (net === "sim" && down > 0)
    cases.push(
      caseFromSamples(
        `sim-${tag}`,
        `${name}: simulated ms per block`,
        group,
        "ms",
        samples.map((s) => s.simMsPerBlock),
        params,
      ),
    );
  return cases;
}

/** Set sizes also measured over TCP (every validator shares this process and its event loop). */
const TCP_SIZES = [4, 7];

/** Runs the suite and returns its results. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const sizes = options.quick ? [4, 7, 13] : [4, 7, 13, 21, 49];
  const cases: CaseResult[] = [];
  const notes: string[] = [
    `Blocks carry ${TRANSFERS_PER_BLOCK} packed transfers' worth of bytes (${TRANSFERS_PER_BLOCK * PACKED_TRANSFER_SIZE} B); tx/s = blocks/s × ${TRANSFERS_PER_BLOCK}, consensus only (no execution).`,
    "SimNetwork links with 0 ms latency: wall-clock time is the protocol's CPU cost (ed25519 sign/verify, sha256 of the block, codec, relaying).",
    "Latency: wall-clock from the first proposal of a height to its commit at the last live validator.",
    "One validator down: its rounds as proposer end by timeoutPropose (300 ms simulated), shown as simulated ms per block.",
    "Each size tolerates f = floor((n-1)/3) byzantine validators: 4→1, 7→2, 13→4, 21→6, 49→16.",
    `TCP (${TCP_SIZES.join(" and ")} validators, each run right after the same case on the SimNetwork): every validator in this one process, so on one event loop and its CPU work serial as on the SimNetwork; TcpTransport on 127.0.0.1 (secure channel: X25519 + ed25519 handshake, every frame sealed with ChaCha20-Poly1305), connected before the clock starts; real timers (gossip tick ${TICK_MS} ms).`,
    "TCP WAL: each validator has its own FileWal in a temp dir on disk and fsyncs it as the engine asks (before sending its own proposal and votes, and at each decision; received messages are appended unsynced); params.fsyncsPerBlock counts them over all validators. fsync is synchronous and all validators share one event loop, so their fsyncs run one after another here; in separate processes they would overlap. The SimNetwork cases have no WAL, so the TCP / SimNetwork ratio is the price of sockets and of the fsynced WAL together; the no-fsync case separates the two.",
    "TCP, one validator down: it is never started; a height it should propose waits the real timeoutPropose (300 ms) before round 1. That wait shows in blocks/s, not in the latencies, which start at a height's first proposal (as on the SimNetwork).",
    "Both networks share one cache of verified signatures per run (one process): each signature is checked once, not once per validator.",
    "Secure channel (bench/secure-channel.ts): frames/s sealing + opening a precommit and a default block's commit against the plaintext framing the transport used before (ratio sealed / plaintext), and connections/s of TcpTransport's full handshake against a bare TCP connect, side by side in this run.",
  ];
  options.onProgress?.("consensus warm-up");
  // JIT warm-up, discarded. With 10 blocks the first measured SimNetwork run was still about half
  // the speed of the later ones (54 → 103 blocks/s over four runs in one process).
  await runCluster(4, 0, 30);
  await runTcpCluster(4, 0, 5);
  for (const n of sizes) {
    for (const down of n <= 7 ? [0, 1] : [0]) {
      // Large sets cost O(n³) deliveries per height (relayed votes): fewer blocks and one run.
      const blocks = n > 13 ? 3 : Math.max(3, Math.round((options.quick ? 60 : 240) / n));
      const runs = options.quick || n > 13 ? 1 : 3;
      const tcp = TCP_SIZES.includes(n);
      const sim: RunStats[] = [];
      const overTcp: RunStats[] = [];
      for (let r = 0; r < runs; r++) {
        options.onProgress?.(`consensus n=${n} down=${down} run ${r + 1}`);
        sim.push(await runCluster(n, down, blocks));
        if (tcp) overTcp.push(await runTcpCluster(n, down, blocks));
      }
      cases.push(...clusterCases("sim", n, down, blocks, sim));
      if (tcp) cases.push(...clusterCases("tcp", n, down, blocks, overTcp));
    }
  }
  // The fsync's share of the TCP figures: the smallest set again, WAL appended but never synced.
  const blocks4 = Math.round((options.quick ? 60 : 240) / 4);
  options.onProgress?.("consensus n=4 over TCP, WAL not fsynced");
  cases.push(...clusterCases("tcp", 4, 0, blocks4, [await runTcpCluster(4, 0, blocks4, false)], false));
  // The cost of the paper's gossip: the same sets with votes not relayed (signers' messages only).
  for (const n of sizes.filter((x) => x >= 7)) {
    const blocks = n > 13 ? 3 : Math.max(3, Math.round((options.quick ? 60 : 240) / n));
    options.onProgress?.(`consensus n=${n} without vote relays`);
    const s = await runCluster(n, 0, blocks, false);
    const params = { validators: n, down: 0, tolerates: Math.floor((n - 1) / 3), blocks, relayVotes: "no" };
    cases.push(
      caseFromSamples(
        `blocks-${n}-norelay`,
        `${n} validators, votes not relayed: blocks/s`,
        "votes not relayed",
        "blocks/s",
        [s.blocksPerSecond],
        params,
        `blocks-${n}`,
      ),
    );
    cases.push(
      caseFromSamples(
        `p50-${n}-norelay`,
        `${n} validators, votes not relayed: commit latency p50`,
        "votes not relayed",
        "ms",
        [percentile(s.latenciesMs, 50)],
        params,
      ),
    );
  }
  // The secure channel's share of the TCP figures: per-frame sealing and the handshake, each against plaintext.
  options.onProgress?.("secure channel: seal/open per frame and handshake");
  cases.push(...(await secureChannelCases(options.quick, options.onProgress)));
  for (const c of cases) if (c.baseline) c.ratio = c.median / cases.find((b) => b.id === c.baseline)!.median;
  return suiteResult(
    "consensus",
    "Tendermint consensus: blocks/s, tx/s and commit latency by validator count, SimNetwork and TCP",
    options.quick,
    cases,
    [],
    notes,
  );
}
