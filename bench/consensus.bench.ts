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
 * Throughput and latency are wall-clock; the "down" cases also report simulated time per block
 * (rounds whose proposer is down wait for timeoutPropose).
 * @module
 */
import { keyPairFromSeed, PACKED_TRANSFER_SIZE } from "../bindings/chain/index.ts";
import { TendermintEngine, ValidatorSet, cachingVerifier, decodeMessage, encodeMessage, type Effect } from "../bindings/consensus/index.ts";
import { SimNetwork, type SimNode } from "../bindings/net/index.ts";
import { median, suiteResult, type CaseResult, type SuiteOptions, type SuiteResult } from "./lib.ts";

const TRANSFERS_PER_BLOCK = 1000;

interface RunStats {
  blocksPerSecond: number;
  latenciesMs: number[];
  simMsPerBlock: number;
}

/** Commits `blocks` heights with `n` validators (`down` of them crashed from the start). */
async function runCluster(n: number, down: number, blocks: number, relayVotes = true): Promise<RunStats> {
  const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
  const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
  keys.sort((a, b) => set.indexOf(a.publicKey) - set.indexOf(b.publicKey));
  const net = new SimNetwork({ seed: 7, link: { latency: { kind: "fixed", ms: 0 } }, settle: "microtask", eventsMax: 50_000_000 });
  const verifier = cachingVerifier(1 << 18); // one process: each signature is checked once
  const payload = new Uint8Array(TRANSFERS_PER_BLOCK * PACKED_TRANSFER_SIZE).map((_, i) => (i * 31) & 255);
  const proposedAt = new Map<number, number>();
  const decidedBy = new Map<number, number>();
  const latencies: number[] = [];
  const nodes: SimNode[] = [];
  const engines: TendermintEngine[] = [];
  const run = (i: number, effects: Effect[]) => {
    const queue = effects.slice();
    for (let k = 0; k < queue.length; k++) {
      const e = queue[k]!;
      if (e.kind === "broadcast") nodes[i]!.transport.broadcast(encodeMessage(e.message));
      else if (e.kind === "send") nodes[i]!.transport.send(`v${e.to}`, encodeMessage(e.message));
      else if (e.kind === "schedule") nodes[i]!.clock.setTimer(e.delayMs, () => run(i, engines[i]!.handle({ kind: "timeout", timeout: e.timeout })));
      else if (e.kind === "validate") queue.push(...engines[i]!.handle({ kind: "validity", valueId: e.valueId, valid: true }));
      else if (e.kind === "decide") {
        const count = (decidedBy.get(e.height) ?? 0) + 1;
        decidedBy.set(e.height, count);
        if (count === n - down) latencies.push(performance.now() - proposedAt.get(e.height)!);
      }
    }
  };
  for (let i = 0; i < n; i++) {
    nodes.push(net.addNode(`v${i}`));
    engines.push(
      new TendermintEngine({
        chainId: "bench",
        validators: set,
        key: keys[i]!,
        verifier,
        relayVotes,
        buildValue: (height, round) => {
          if (!proposedAt.has(height)) proposedAt.set(height, performance.now());
          const value = payload.slice();
          value[0] = height & 255;
          value[1] = round & 255;
          return value;
        },
      }),
    );
  }
  for (let i = 0; i < n; i++) nodes[i]!.transport.setHandler({ onMessage: (from, bytes) => run(i, engines[i]!.handle({ kind: "message", from: Number(from.slice(1)), message: decodeMessage(bytes) })) });
  for (let i = 0; i < down; i++) net.crash(`v${n - 1 - i}`);
  const t0 = performance.now();
  const sim0 = net.now;
  for (let i = 0; i < n - down; i++) run(i, engines[i]!.start());
  const done = () => (decidedBy.get(blocks) ?? 0) >= n - down;
  if (!(await net.runUntil(done, 600_000))) throw new Error(`consensus bench: ${blocks} blocks not committed with n=${n}, down=${down}`);
  const seconds = (performance.now() - t0) / 1000;
  return { blocksPerSecond: blocks / seconds, latenciesMs: latencies, simMsPerBlock: (net.now - sim0) / blocks };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function caseOf(id: string, label: string, group: string, unit: string, samples: number[], params: Record<string, string | number>, baseline?: string): CaseResult {
  return { id, label, group, unit, samples, median: median(samples), min: Math.min(...samples), max: Math.max(...samples), params, ...(baseline ? { baseline } : {}) };
}

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
  ];
  options.onProgress?.("consensus warm-up");
  await runCluster(4, 0, 10); // JIT warm-up, discarded
  for (const n of sizes) {
    for (const down of n <= 7 ? [0, 1] : [0]) {
      // Large sets cost O(n³) deliveries per height (relayed votes): fewer blocks and one run.
      const blocks = n > 13 ? 3 : Math.max(3, Math.round((options.quick ? 60 : 240) / n));
      const samples: RunStats[] = [];
      for (let r = 0; r < (options.quick || n > 13 ? 1 : 3); r++) {
        options.onProgress?.(`consensus n=${n} down=${down} run ${r + 1}`);
        samples.push(await runCluster(n, down, blocks));
      }
      const params = { validators: n, down, tolerates: Math.floor((n - 1) / 3), blocks };
      const tag = down === 0 ? `${n}` : `${n}-down`;
      const group = down === 0 ? "all validators up" : "one validator down";
      cases.push(caseOf(`blocks-${tag}`, `${n} validators${down ? ", 1 down" : ""}: blocks/s`, group, "blocks/s", samples.map((s) => s.blocksPerSecond), params, down === 0 && n !== 4 ? "blocks-4" : undefined));
      cases.push(caseOf(`tx-${tag}`, `${n} validators${down ? ", 1 down" : ""}: tx/s`, group, "tx/s", samples.map((s) => s.blocksPerSecond * TRANSFERS_PER_BLOCK), params));
      const lat = samples.flatMap((s) => s.latenciesMs);
      cases.push(caseOf(`p50-${tag}`, `${n} validators${down ? ", 1 down" : ""}: commit latency p50`, group, "ms", [percentile(lat, 50)], params));
      cases.push(caseOf(`p99-${tag}`, `${n} validators${down ? ", 1 down" : ""}: commit latency p99`, group, "ms", [percentile(lat, 99)], params));
      if (down > 0) cases.push(caseOf(`sim-${tag}`, `${n} validators, 1 down: simulated ms per block`, group, "ms", samples.map((s) => s.simMsPerBlock), params));
    }
  }
  // The cost of the paper's gossip: the same sets with votes not relayed (signers' messages only).
  for (const n of sizes.filter((x) => x >= 7)) {
    const blocks = n > 13 ? 3 : Math.max(3, Math.round((options.quick ? 60 : 240) / n));
    options.onProgress?.(`consensus n=${n} without vote relays`);
    const s = await runCluster(n, 0, blocks, false);
    const params = { validators: n, down: 0, tolerates: Math.floor((n - 1) / 3), blocks, relayVotes: "no" };
    cases.push(caseOf(`blocks-${n}-norelay`, `${n} validators, votes not relayed: blocks/s`, "votes not relayed", "blocks/s", [s.blocksPerSecond], params, `blocks-${n}`));
    cases.push(caseOf(`p50-${n}-norelay`, `${n} validators, votes not relayed: commit latency p50`, "votes not relayed", "ms", [percentile(s.latenciesMs, 50)], params));
  }
  for (const c of cases) if (c.baseline) c.ratio = c.median / cases.find((b) => b.id === c.baseline)!.median;
  return suiteResult("consensus", "Tendermint consensus: blocks/s, tx/s and commit latency by validator count", options.quick, cases, [], notes);
}
