/**
 * `chaindb cluster --nodes 4 --mode primary`: a local cluster of separate `chaindb node` processes
 * over TCP on loopback, a small load generator submitting transfers to every node in turn
 * (following NOT_PRIMARY to the primary), and a live status table. Ctrl-C stops the nodes
 * cleanly. With `--blocks N` it stops by itself once N blocks are committed and every node has
 * caught up; `--json` then prints per node its height, tip hash and state root.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChainDbError, ErrorCode, fromHex, toHex } from "../util/index.ts";
import { signTransfer } from "../chain/index.ts";
import { loadOrCreateNodeKey } from "../net/index.ts";
import { signStakingTx } from "../selection/index.ts";
import { choiceOption, intOption, parseCommand, type CommandSpec } from "./args.ts";
import { loadOrCreateValidatorKey } from "./consensus-node.ts";
import { CONSENSUS_KINDS, DEV_CHAIN_ID, devAccounts } from "./node.ts";

/** The status line a node prints (see node.ts). */
export interface NodeStatusLine {
  id: string;
  role: string;
  epoch: number;
  primary?: string;
  height: number;
  commit: number;
  applied: number;
  root: string;
  tip: string;
  peers: string[];
  /** Consensus nodes: the validator set of the next height (public keys). */
  validators?: string[];
  /** Consensus nodes: stopped at `--halt-height`. */
  halted?: boolean;
  failure?: string | null;
}

/** A `slash` line of a consensus node: the offender and whether it is in the sets of H + 1 and H + 2. */
export interface SlashLine {
  node: number;
  height: number;
  offender: string;
  inSetNext: boolean;
  inSetAfterNext: boolean;
}

/** Options of {@link LocalCluster.start}. */
export interface LocalClusterOptions {
  nodes: number;
  dir?: string;
  basePort?: number;
  ack?: "sync" | "async";
  /** Single-primary replication (default) or multi-primary proof of work. */
  mode?: "primary" | "pow";
  /** Tendermint consensus with this selection (overrides `mode`). */
  consensus?: "tendermint" | "pos" | "dpos";
  /** Consensus: indexes of nodes started with `--byzantine double-vote`. */
  byzantine?: readonly number[];
  /** Consensus: every node stops after committing this height. */
  haltHeight?: number;
}

const BIN = new URL(import.meta.url.endsWith(".ts") ? "./bin.ts" : "./bin.js", import.meta.url);

/** Separate node processes on loopback, with their latest status lines. */
export class LocalCluster {
  readonly statuses: (NodeStatusLine | undefined)[];
  readonly procs: (ChildProcess | undefined)[];
  /** Slash lines printed by the nodes, in arrival order. */
  readonly slashes: SlashLine[] = [];
  /** Validator public keys (hex) of a consensus cluster, by node. */
  validatorKeys: string[] = [];
  private listeners: (() => void)[] = [];
  private readonly args: string[][];

  private constructor(
    readonly dir: string,
    readonly addresses: string[],
  ) {
    this.statuses = addresses.map(() => undefined);
    this.procs = addresses.map(() => undefined);
    this.args = [];
  }

  /** Creates keys and data directories and starts every node. */
  static start(options: LocalClusterOptions): LocalCluster {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "chaindb-cluster-"));
    const base = options.basePort ?? 20_000 + Math.floor(Math.random() * 20_000);
    const addresses = Array.from({ length: options.nodes }, (_, i) => `127.0.0.1:${base + 2 * i}`);
    const keys = addresses.map((_, i) => loadOrCreateNodeKey(join(dir, `n${i}`, "node.key")));
    const cluster = new LocalCluster(dir, addresses);
    if (options.consensus !== undefined)
      cluster.validatorKeys = addresses.map((_, i) =>
        toHex(loadOrCreateValidatorKey(join(dir, `n${i}`, "validator.key")).publicKey),
      );
    addresses.forEach((address, i) => {
      const peers = addresses
        .flatMap((a, j) => (j === i ? [] : [`${a}@${toHex(keys[j]!.publicKey)}`]))
        .join(",");
      const args = ["node", "--data", join(dir, `n${i}`), "--listen", address, "--peers", peers];
      if (options.consensus === undefined)
        args.push("--mode", options.mode ?? "primary", "--ack", options.ack ?? "sync");
      else {
        args.push("--consensus", options.consensus, "--validators", cluster.validatorKeys.join(","));
        if (options.byzantine?.includes(i)) args.push("--byzantine", "double-vote");
        if (options.haltHeight !== undefined) args.push("--halt-height", String(options.haltHeight));
      }
      cluster.args.push(args);
      cluster.launch(i);
    });
    return cluster;
  }

  /** (Re)starts node `i` from its data directory. */
  launch(i: number): void {
    const loader = BIN.pathname.endsWith(".ts") ? ["--import", "tsx"] : [];
    const child = spawn(process.execPath, [...loader, BIN.pathname, ...this.args[i]!], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.procs[i] = child;
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const msg = JSON.parse(line) as { event?: string } & NodeStatusLine & SlashLine;
          if (msg.event === "status") this.statuses[i] = msg;
          if (msg.event === "slash")
            this.slashes.push({
              node: i,
              height: msg.height,
              offender: msg.offender,
              inSetNext: msg.inSetNext,
              inSetAfterNext: msg.inSetAfterNext,
            });
        } catch {
          // not a status line
        }
        this.notify();
      }
    });
    child.once("exit", () => {
      if (this.procs[i] === child) this.procs[i] = undefined;
      this.notify();
    });
  }

  /** Sends `signal` to node `i` and resolves when it exited. */
  async kill(i: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.procs[i];
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    await exited;
    this.statuses[i] = undefined;
  }

  /** Stops every node cleanly. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((_, i) => this.kill(i, "SIGTERM")));
  }

  /** Resolves when `done(statuses)` holds (checked on every status line); rejects after `timeoutMs`. */
  waitFor(
    done: (s: (NodeStatusLine | undefined)[]) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    if (done(this.statuses)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done(this.statuses)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(
          new Error(
            `cluster: timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(this.statuses.map((s) => s && { role: s.role, epoch: s.epoch, applied: s.applied }))}`,
          ),
        );
      }, timeoutMs);
      this.listeners.push(check);
    });
  }

  /** Index of the live primary with the highest epoch, if any. */
  primaryIndex(): number | undefined {
    let best: number | undefined;
    this.statuses.forEach((s, i) => {
      if (
        s?.role === "primary" &&
        this.procs[i] !== undefined &&
        (best === undefined || s.epoch > this.statuses[best]!.epoch)
      )
        best = i;
    });
    return best;
  }

  /** Submits a signed transfer (hex) at node `i`, following NOT_PRIMARY redirects (at most 3). */
  async submit(i: number, transferHex: string): Promise<{ height: number; epoch: number; status?: string }> {
    let target = this.addresses[i]!;
    for (let hop = 0; hop < 4; hop++) {
      const [host, port] = [
        target.slice(0, target.lastIndexOf(":")),
        Number(target.slice(target.lastIndexOf(":") + 1)),
      ];
      const res = await fetch(`http://${host}:${port + 1}/submit`, {
        method: "POST",
        body: transferHex,
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as {
        height: number;
        epoch: number;
        status?: string;
        primary?: string | null;
        error?: string;
        message?: string;
      };
      if (res.status === 200) return body;
      if (res.status === 409 && typeof body.primary === "string") {
        target = body.primary;
        continue;
      }
      throw new ChainDbError(
        ErrorCode.NOT_PRIMARY,
        `submit failed (${res.status}): ${body.message ?? body.error}`,
      );
    }
    throw new ChainDbError(ErrorCode.NOT_PRIMARY, "submit: too many redirects");
  }

  /** Turns mining on or off at node `i` (proof-of-work mode). */
  async setMining(i: number, on: boolean): Promise<void> {
    const port = Number(this.addresses[i]!.split(":")[1]) + 1;
    await fetch(`http://127.0.0.1:${port}/mining/${on ? "on" : "off"}`, {
      method: "POST",
      signal: AbortSignal.timeout(10_000),
    });
  }

  /** Re-checks every waiter (after an outside change such as a signal). */
  notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

const CLUSTER: CommandSpec = {
  name: "cluster",
  summary:
    "Starts a local cluster of separate `chaindb node` processes over TCP on loopback, a load generator that submits transfers to every node in turn (following NOT_PRIMARY to the primary), and a live status table; Ctrl-C stops the nodes cleanly. With --blocks N it stops by itself once N blocks are committed and every node has caught up, and prints a summary.",
  notes: [
    "The table has one row per node: its address, its role (primary/secondary, miner, validator/follower), the",
    "height it has applied, the first hex digits of its tip block's hash, and how many peers it is connected to.",
    "Tendermint clusters also show `validators`: the size of the validator set for the next height. Under PoS",
    "that is the genesis validators plus the dev accounts the load generator makes stake (one in four), so 4",
    "nodes show 8 validators once those stakes are bonded; the extra validators run no node and have too little",
    "power to matter for progress. Node data goes to a temporary folder that is removed at exit unless --dir is given.",
  ],
  options: [
    { name: "nodes", value: "N", default: "4", help: "node processes, 1..16" },
    {
      name: "mode",
      value: "primary|pow",
      default: "primary",
      help: "single-primary replication, or the multi-primary proof-of-work chain",
    },
    {
      name: "consensus",
      value: "pow|tendermint|pos|dpos",
      help: "pow is --mode pow; the others run Tendermint validators with that selection",
    },
    {
      name: "byzantine",
      value: "<i,...>",
      help: "consensus: node indexes that double-vote (evidence and slashing follow)",
    },
    {
      name: "blocks",
      value: "N",
      help: "stop once N blocks are committed everywhere (default: run until Ctrl-C)",
    },
    {
      name: "ack",
      value: "sync|async",
      default: "sync",
      help: "--mode primary: when the primary acknowledges a write",
    },
    {
      name: "rate",
      value: "tx/s",
      default: "50",
      help: "load generator: transactions submitted per second, 1..10000",
    },
    {
      name: "dir",
      value: "<dir>",
      help: "keep the nodes' data in <dir> (default: a temporary folder, removed at exit)",
    },
    {
      name: "json",
      help: "with --blocks: print the final state of every node as one JSON object (the table goes to stderr)",
    },
  ],
  examples: ["chaindb cluster --nodes 4 --consensus pos --blocks 10"],
};

/** Runs `cluster ...`; returns the exit code. */
export async function clusterCommand(args: string[]): Promise<0 | 1 | 2> {
  const parsed = parseCommand(CLUSTER, args);
  if (parsed === null) return 0;
  const values = parsed.values as Record<string, string | undefined> & { json: boolean };
  const mode = choiceOption(values.mode, "mode", ["primary", "pow"] as const);
  const consensus =
    values.consensus === undefined ? undefined : choiceOption(values.consensus, "consensus", CONSENSUS_KINDS);
  const ack = choiceOption(values.ack, "ack", ["sync", "async"] as const);
  const pow = mode === "pow" || consensus === "pow";
  const bft = consensus !== undefined && consensus !== "pow" ? consensus : undefined;
  const n = intOption(values.nodes, "nodes", 1, 16);
  const blocks = values.blocks === undefined ? undefined : intOption(values.blocks, "blocks", 1, 1_000_000);
  const rate = intOption(values.rate, "rate", 1, 10_000);
  const byzantine =
    values.byzantine === undefined
      ? []
      : values.byzantine.split(",").map((x) => intOption(x, "byzantine", 0, n - 1));
  if (byzantine.length > 0 && bft === undefined)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      "cluster: --byzantine needs --consensus tendermint, pos or dpos",
    );
  const temporary = values.dir === undefined;
  const cluster = LocalCluster.start({
    nodes: n,
    mode: pow ? "pow" : "primary",
    ack,
    ...(values.dir ? { dir: values.dir } : {}),
    ...(bft !== undefined
      ? { consensus: bft, byzantine, ...(blocks !== undefined ? { haltHeight: blocks } : {}) }
      : {}),
  });
  const out = values.json ? process.stderr : process.stdout;
  const screen = new StatusScreen(out);
  const kind =
    bft !== undefined
      ? `tendermint, ${bft} selection`
      : pow
        ? "proof of work, every node mines"
        : `single primary, ${ack} acks`;
  out.write(
    `cluster: ${n} nodes (${kind}); data in ${cluster.dir}${temporary ? " (temporary: removed at exit; --dir <dir> keeps it)" : ""}\n`,
  );
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    cluster.notify();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const startedAt = performance.now();
  const load = loadGenerator(cluster, n, rate, bft, () => stopping);
  const committedWord = pow || bft !== undefined ? "accepted into a mempool" : "committed";
  const draw = () =>
    screen.draw(statusTable(cluster, bft, `${load.submitted()} transactions ${committedWord}`));
  const show = setInterval(draw, 1000);
  let final: (NodeStatusLine | undefined)[];
  let caughtUp = blocks === undefined;
  try {
    if (blocks !== undefined) {
      const reached = (x: NodeStatusLine | undefined) =>
        x !== undefined &&
        (pow || bft !== undefined ? x.height >= blocks : x.role === "primary" && x.commit >= blocks);
      await cluster
        .waitFor((s) => stopping || s.some(reached), 120_000 + 5_000 * blocks, `${blocks} blocks`)
        .catch(timedOut);
      load.stop();
      // Proof of work: the miners stop so that the last blocks settle into one chain.
      if (pow) await Promise.all(cluster.addresses.map((_, i) => cluster.setMining(i, false)));
      const agreed = (s: (NodeStatusLine | undefined)[]) =>
        s.every((x) => x !== undefined) &&
        s.every((x) => x!.applied === s[0]!.applied && x!.root === s[0]!.root && x!.applied >= blocks);
      await cluster.waitFor((s) => stopping || agreed(s), 60_000, "every node caught up").catch(timedOut);
      caughtUp = agreed(cluster.statuses);
    } else {
      await cluster.waitFor(() => stopping, 2 ** 31 - 1, "Ctrl-C");
    }
  } finally {
    load.stop();
    clearInterval(show);
    final = [...cluster.statuses];
    draw();
    await cluster.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (temporary) rmSync(cluster.dir, { recursive: true, force: true });
  }
  out.write(
    summaryLine(
      final,
      load.submitted(),
      committedWord,
      (performance.now() - startedAt) / 1000,
      cluster.dir,
      temporary,
      cluster.slashes.length,
    ) + "\n",
  );
  if (values.json && blocks !== undefined) {
    const nodes = final.map((s, i) => ({
      node: `n${i}`,
      id: cluster.addresses[i],
      height: s?.applied,
      tip: s?.tip,
      root: s?.root,
      ...(s?.validators !== undefined ? { validators: s.validators } : {}),
    }));
    const extra =
      bft === undefined
        ? {}
        : { consensus: bft, validatorKeys: cluster.validatorKeys, byzantine, slashes: cluster.slashes };
    process.stdout.write(
      JSON.stringify(
        { nodes, transfers: load.submitted(), ...extra, dir: temporary ? null : cluster.dir },
        null,
        2,
      ) + "\n",
    );
  }
  return caughtUp || stopping ? 0 : 1;
}

/** A wait that ran out is an operational failure (exit 1, one line), not a crash. */
function timedOut(error: unknown): never {
  throw new ChainDbError(
    ErrorCode.REPLICATION_TIMEOUT,
    error instanceof Error ? error.message : String(error),
  );
}

/** The status table: a header, one row per node, and a footer line. */
function statusTable(cluster: LocalCluster, bft: string | undefined, footer: string): string[] {
  const header = `  node  address           role        ${bft === undefined ? "epoch  " : ""}height  tip           ${bft !== undefined ? "validators  " : ""}peers`;
  const rows = cluster.statuses.map((s, i) => {
    if (s === undefined) return `  n${String(i).padEnd(4)}${cluster.addresses[i]!.padEnd(18)}(starting)`;
    const epoch = bft === undefined ? String(s.epoch ?? "").padEnd(7) : "";
    const set = bft !== undefined ? String(s.validators?.length ?? "").padEnd(12) : "";
    return `  n${String(i).padEnd(4)}${s.id.padEnd(18)}${s.role.padEnd(12)}${epoch}${String(s.applied).padEnd(8)}${s.tip.slice(0, 12).padEnd(14)}${set}${s.peers.length}`;
  });
  const slashes = cluster.slashes.map(
    (x) =>
      `  slashed ${x.offender.slice(0, 12)} at height ${x.height} (seen by n${x.node}); in the set of height ${x.height + 2}: ${x.inSetAfterNext}`,
  );
  return [header, ...rows, ...slashes, `  ${footer}`];
}

/** The last line of a run: what was reached, by whom, in how long, and where the data is. */
function summaryLine(
  final: (NodeStatusLine | undefined)[],
  submitted: number,
  word: string,
  seconds: number,
  dir: string,
  temporary: boolean,
  slashes: number,
): string {
  const heights = final.map((s) => s?.applied ?? 0);
  const roots = new Set(final.map((s) => s?.root));
  const agree = final.every((s) => s !== undefined) && new Set(heights).size === 1 && roots.size === 1;
  const state = agree
    ? `all ${final.length} nodes at height ${heights[0]} with one state root ${final[0]!.root.slice(0, 12)}`
    : `heights ${heights.join(", ")}`;
  const data = temporary ? `data removed (${dir})` : `data kept in ${dir}`;
  return `summary: ${state}; ${submitted} transactions ${word}${slashes > 0 ? `; ${slashes} slash line(s)` : ""}; ${seconds.toFixed(1)} s; ${data}`;
}

/**
 * Shows the status table (exported for its test): on a terminal it is redrawn in place (cursor
 * up, clear line); piped, a row is printed only when it changed, so a log stays readable.
 */
export class StatusScreen {
  private drawn: string[] = [];
  /** A screen on `out` (stdout, or stderr under --json). */
  constructor(private readonly out: NodeJS.WriteStream) {}

  /** Shows `lines`, replacing (terminal) or updating (pipe) what was shown before. */
  draw(lines: readonly string[]): void {
    if (this.out.isTTY === true) {
      const up = this.drawn.length > 0 ? `\x1b[${this.drawn.length}A` : "";
      this.out.write(
        up + lines.map((l) => `\x1b[2K${l}\n`).join("") + (this.drawn.length > lines.length ? "\x1b[J" : ""),
      );
    } else {
      const changed = lines.filter((l, i) => this.drawn[i] !== l);
      if (changed.length > 0) this.out.write(changed.map((l) => `${l}\n`).join(""));
    }
    this.drawn = [...lines];
  }
}

/**
 * Submits transfers from the dev accounts to the nodes in turn; on a PoS chain some accounts also
 * stake a little (too little to matter for liveness: those accounts run no validator), on a DPoS
 * chain each account first votes for the genesis validators.
 */
function loadGenerator(
  cluster: LocalCluster,
  n: number,
  rate: number,
  bft: "tendermint" | "pos" | "dpos" | undefined,
  stopping: () => boolean,
) {
  const accounts = devAccounts();
  const nonces = accounts.map(() => 0);
  const busy = new Set<number>();
  let submitted = 0;
  let turn = 0;
  const timer = setInterval(() => {
    const a = turn % accounts.length;
    const at = turn++ % n;
    if (busy.has(a) || stopping()) return;
    busy.add(a);
    const nonce = nonces[a]!;
    let tx = signTransfer(accounts[a]!, {
      chainId: DEV_CHAIN_ID,
      to: accounts[(a + 1) % accounts.length]!.publicKey,
      amount: 1,
      fee: 1,
      nonce,
    });
    if (bft === "pos" && a % 4 === 0 && nonce === 1)
      tx = signStakingTx(accounts[a]!, { kind: "stake", chainId: DEV_CHAIN_ID, amount: 100, fee: 1, nonce });
    if (bft === "dpos" && nonce === 0) {
      const candidates = cluster.validatorKeys.slice(0, 8).map((k) => fromHex(k, "validator"));
      tx = signStakingTx(accounts[a]!, { kind: "vote", chainId: DEV_CHAIN_ID, fee: 1, nonce, candidates });
    }
    cluster
      .submit(at, toHex(tx))
      .then(
        () => (nonces[a]!++, submitted++),
        () => {},
      )
      .finally(() => busy.delete(a));
  }, 1000 / rate);
  return { stop: () => clearInterval(timer), submitted: () => submitted };
}
