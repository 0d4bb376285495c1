/**
 * Replication benchmark: committed transfers per second and commit latency (p50/p99) for one
 * primary and two backups, synchronous and asynchronous acknowledgement, over the SimNetwork and
 * over TCP on loopback (three replicas in this process, fsynced replica logs in a temp dir), and
 * the failover time (primary killed → a new primary commits). A closed-loop client keeps
 * `CONCURRENCY` transfers in flight, each from its own account so nonces stay in order.
 *
 * On the SimNetwork, throughput is wall-clock (the protocol's and the ledger's CPU cost) while
 * latencies and failover are virtual milliseconds of the simulated links (1–10 ms) and timeouts.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger, keyPairFromSeed, signTransfer } from "../bindings/chain/index.ts";
import {
  Random,
  SimNetwork,
  TcpTransport,
  nodeKeyFromSeed,
  systemClock,
  type Clock,
  type Transport,
} from "../bindings/net/index.ts";
import {
  FileReplicaStore,
  Replica,
  SimReplicaStore,
  type ReplicaStore,
  type ReplicationMode,
} from "../bindings/replication/index.ts";
import { nodeFilePort } from "../bindings/store/index.ts";
import { ChainDbError } from "../bindings/util/index.ts";
import {
  caseFromSamples,
  percentile,
  suiteResult,
  type CaseResult,
  type SuiteOptions,
  type SuiteResult,
} from "./lib.ts";

const CHAIN_ID = 9;
const ACCOUNTS = 256;
const IDS = ["r0", "r1", "r2"];
const CONCURRENCY = 128;

interface Fixture {
  genesis: { address: Uint8Array; balance: bigint }[];
  transfers: Uint8Array[][];
}

function fixture(perAccount: number): Fixture {
  const keys = Array.from({ length: ACCOUNTS }, (_, i) =>
    keyPairFromSeed(new Uint8Array(32).fill(0).map((_, j) => (j === 0 ? i & 255 : j === 1 ? 77 : 0))),
  );
  return {
    genesis: keys.map((k) => ({ address: k.publicKey, balance: 1n << 40n })),
    transfers: keys.map((k, i) =>
      Array.from({ length: perAccount }, (_, n) =>
        signTransfer(k, {
          chainId: CHAIN_ID,
          to: keys[(i + 1) % ACCOUNTS]!.publicKey,
          amount: 1,
          fee: 0,
          nonce: n,
        }),
      ),
    ),
  };
}

interface Cluster {
  replicas: Replica[];
  /** Runs the world until `done()` (SimNetwork) or waits for it in real time (TCP). */
  until(done: () => boolean, maxMs: number): Promise<boolean>;
  now(): number;
  /** Runs `fn` after `ms` of the cluster's time (virtual on the SimNetwork). */
  later(ms: number, fn: () => void): void;
  kill(i: number): Promise<void>;
  close(): Promise<void>;
}

async function openReplica(
  id: string,
  mode: ReplicationMode,
  f: Fixture,
  transport: Transport,
  clock: Clock,
  random: Random,
  store: ReplicaStore,
): Promise<Replica> {
  // ts state engine: the wasm engine refuses the empty epoch-start block (out of memory).
  const ledger = await Ledger.open({ chainId: CHAIN_ID, genesis: f.genesis, engine: "ts" });
  return Replica.open({
    id,
    config: { nodes: IDS, mode, blockTransfersMax: 500 },
    transport,
    clock,
    random,
    store,
    ledger,
    proposer: new Uint8Array(32).fill(IDS.indexOf(id) + 1),
  });
}

async function simCluster(mode: ReplicationMode, f: Fixture): Promise<Cluster> {
  const replicas: Replica[] = [];
  const net = new SimNetwork({
    seed: 1,
    settle: async () => void (await Promise.all(replicas.map((r) => r.idle()))),
  });
  for (const id of IDS) {
    const node = net.addNode(id);
    replicas.push(
      await openReplica(
        id,
        mode,
        f,
        node.transport,
        node.clock,
        node.random,
        new SimReplicaStore(node.storage),
      ),
    );
  }
  return {
    replicas,
    until: (done, maxMs) => net.runUntil(done, maxMs),
    now: () => net.now,
    later: (ms, fn) => void net.clock.setTimer(ms, fn),
    kill: async (i) => (net.crash(IDS[i]!), replicas[i]!.close()),
    close: async () => void (await Promise.all(replicas.map((r) => r.close()))),
  };
}

async function tcpCluster(mode: ReplicationMode, f: Fixture, groupCommit = false): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "chaindb-bench-repl-"));
  const keys = IDS.map((_, i) => nodeKeyFromSeed(new Uint8Array(32).fill(i + 50)));
  const transports: TcpTransport[] = [];
  // Start in reverse id order so each dialer knows its acceptors' ports.
  const ports: number[] = [];
  for (let i = IDS.length - 1; i >= 0; i--) {
    const peers = IDS.flatMap((id, j) =>
      j === i
        ? []
        : [{ id, publicKey: keys[j]!.publicKey, ...(j > i ? { host: "127.0.0.1", port: ports[j]! } : {}) }],
    );
    const t = await TcpTransport.start({
      id: IDS[i]!,
      key: keys[i]!,
      listen: { host: "127.0.0.1", port: 0 },
      peers,
    });
    ports[i] = t.address!.port;
    transports[i] = t;
  }
  const replicas: Replica[] = [];
  for (const [i, id] of IDS.entries()) {
    replicas.push(
      await openReplica(
        id,
        mode,
        f,
        transports[i]!,
        systemClock,
        new Random(i + 1),
        new FileReplicaStore(join(dir, id), nodeFilePort, { groupCommit }),
      ),
    );
  }
  return {
    replicas,
    until: (done, maxMs) =>
      new Promise((resolve) => {
        const t0 = performance.now();
        // Real time: check on every macrotask turn (the replicas run on the same event loop).
        const check = () =>
          done() ? resolve(true) : performance.now() - t0 > maxMs ? resolve(false) : setImmediate(check);
        check();
      }),
    now: () => performance.now(),
    later: (ms, fn) => void setTimeout(fn, ms),
    kill: async (i) => {
      await replicas[i]!.close();
      await transports[i]!.close();
    },
    close: async () => {
      await Promise.all(replicas.map((r) => r.close()));
      await Promise.all(transports.map((t) => t.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The primary of the highest epoch (a killed primary keeps its last status). */
const primaryOf = (c: Cluster) =>
  c.replicas
    .filter((r) => !r.error && r.status().role === "primary")
    .sort((a, b) => b.status().epoch - a.status().epoch)[0];

/** Closed loop: `total` transfers with `CONCURRENCY` in flight; returns wall-clock rate and latencies. */
async function workload(
  c: Cluster,
  f: Fixture,
  total: number,
  round: number,
): Promise<{ rate: number; latencies: number[] }> {
  if (!(await c.until(() => primaryOf(c) !== undefined, 10_000))) throw new Error("no primary");
  const latencies: number[] = [];
  let started = 0;
  let done = 0;
  // Nonce-major order: an account's next transfer is ACCOUNTS submissions later, after its previous one.
  const base = round * Math.ceil(total / ACCOUNTS);
  const t0 = performance.now();
  const retry: Uint8Array[] = [];
  const submitNext = () => {
    let tx = retry.shift();
    if (tx === undefined) {
      if (started >= total) return;
      const k = started++;
      tx = f.transfers[k % ACCOUNTS]![base + Math.floor(k / ACCOUNTS)]!;
    }
    const primary = primaryOf(c);
    if (primary === undefined) return void (retry.push(tx), c.later(5, submitNext));
    const sent = c.now();
    const again = tx;
    primary.submit(tx).then(
      () => (latencies.push(c.now() - sent), done++, submitNext()),
      (e: unknown) => {
        // The primary changed under load (an election): the client retries at the new one; a
        // transfer that did commit before comes back as a nonce error, which is still an answer.
        if (!(e instanceof ChainDbError)) throw e;
        retry.push(again);
        c.later(5, submitNext);
      },
    );
  };
  for (let i = 0; i < CONCURRENCY; i++) submitNext();
  if (!(await c.until(() => done >= total, 120_000))) throw new Error(`workload stalled at ${done}/${total}`);
  return { rate: (total * 1000) / (performance.now() - t0), latencies };
}

async function failover(c: Cluster): Promise<number> {
  const old = primaryOf(c)!;
  const t0 = c.now();
  await c.kill(c.replicas.indexOf(old));
  const ok = await c.until(() => {
    const p = primaryOf(c);
    return (
      p !== undefined &&
      p !== old &&
      p.status().commit >= p.status().lastHeight &&
      p.status().epoch > old.status().epoch
    );
  }, 30_000);
  if (!ok)
    throw new Error(
      `no failover: ${JSON.stringify(c.replicas.map((r) => ({ ...r.status(), root: undefined, error: r.error?.message })))}`,
    );
  return c.now() - t0;
}

/** Runs the suite and returns its results. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const rounds = options.quick ? 1 : 3;
  const total = options.quick ? 1000 : 4000;
  const f = fixture(Math.ceil(total / ACCOUNTS) * rounds + 1);
  const cases: CaseResult[] = [];
  const variants = [
    ["sim", "sync"],
    ["sim", "async"],
    ["tcp", "sync"],
    ["tcp", "async"],
    ["tcp-group", "sync"],
  ] as const;
  for (const [net, mode] of variants) {
    options.onProgress?.(`${net} ${mode}`);
    const rates: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    const failovers: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const c = net === "sim" ? await simCluster(mode, f) : await tcpCluster(mode, f, net === "tcp-group");
      try {
        const w = await workload(c, f, total, round);
        rates.push(w.rate);
        p50.push(percentile(w.latencies, 50));
        p99.push(percentile(w.latencies, 99));
        failovers.push(await failover(c));
      } finally {
        await c.close();
      }
    }
    const params = {
      network: net === "sim" ? "sim" : "tcp",
      mode,
      replicas: 3,
      concurrency: CONCURRENCY,
      transfers: total,
      groupCommit: net === "tcp-group" ? "on" : "off",
    };
    const ms = net === "sim" ? "virtual ms" : "ms";
    cases.push(
      caseFromSamples(
        `${net}-${mode}-tps`,
        `${net} ${mode}: committed transfers`,
        "throughput",
        "transfers/s",
        rates,
        params,
        mode === "async" ? `${net}-sync-tps` : net === "tcp-group" ? "tcp-sync-tps" : undefined,
      ),
    );
    cases.push(
      caseFromSamples(`${net}-${mode}-p50`, `${net} ${mode}: commit latency p50`, "latency", ms, p50, params),
    );
    cases.push(
      caseFromSamples(`${net}-${mode}-p99`, `${net} ${mode}: commit latency p99`, "latency", ms, p99, params),
    );
    cases.push(
      caseFromSamples(
        `${net}-${mode}-failover`,
        `${net} ${mode}: failover (primary killed → new primary committing)`,
        "failover",
        ms,
        failovers,
        params,
      ),
    );
  }
  for (const c of cases) {
    const base = cases.find((b) => b.id === c.baseline);
    if (base) c.ratio = c.median / base.median;
  }
  return suiteResult(
    "replication",
    "Single-primary replication: 1 primary + 2 backups",
    options.quick,
    cases,
    [],
    [
      `Closed loop with ${CONCURRENCY} transfers in flight, blocks of up to 500 transfers cut every 10 ms; every replica verifies signatures and applies each committed block (ts state engine).`,
      "TCP: three replicas in one process on loopback, replica logs fsynced per block in a temp dir; sim: virtual links of 1–10 ms, so its latencies and failover are virtual milliseconds while its throughput is wall-clock.",
      "tcp-group: the same with every replica log's group commit (`FileReplicaStore` `groupCommit`: the fsync runs off the JavaScript thread and appends made meanwhile share the next); the ratio is against tcp sync.",
      "Failover: heartbeat 50 ms, failover timeout drawn from 300–600 ms; measured until a new primary in a higher epoch has committed its epoch-start block.",
      "All replicas share one process here: each transfer is ed25519-verified four times (at submit, then by each replica's ledger); a CPU profile of the quick run put about 60% of the time in node:crypto verification. Under load the event loop can stall past the failover timeout, so elections may happen during the run; the client then retries at the new primary.",
    ],
  );
}
