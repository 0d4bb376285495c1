// runs on: node
/**
 * Two-phase commit across two banks: Alice's account is at bank A, Bob's at bank B, each bank its
 * own durable ledger in its own process, talking over authenticated TCP on loopback; this process
 * is the coordinator. A transfer from Alice to Bob commits at both banks or at neither.
 *
 *   npm run build:ts && npx tsx examples/two-phase-commit.ts
 *
 * 1. Alice sends Bob $30: both banks prepare (locks, PREPARED forced to disk), both commit.
 * 2. Alice tries to send $500: bank A votes NO (overdraft), so bank B aborts too — no trace.
 * 3. Alice sends Bob $25, and bank B is killed (SIGKILL) right after it forced PREPARED and before
 *    its vote left. It restarts from its files, re-takes the locks of the prepared transfer and
 *    votes again; the coordinator commits; the money arrives exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  Coordinator,
  FileTwoPcLog,
  LedgerBank,
  LedgerDatabase,
  Ledger,
  Participant,
  TcpTransport,
  TwoPcRunner,
  nodeKeyFromSeed,
  systemClock,
  toHex,
  type TcpPeer,
  type TwoPcOp,
} from "chaindb";

const alice = toHex(new Uint8Array(32).fill(0xa1));
const bob = toHex(new Uint8Array(32).fill(0xb0));
const ids = ["bankA", "bankB", "coord"] as const;
const keyOf = (id: string) =>
  nodeKeyFromSeed(new Uint8Array(32).fill(ids.indexOf(id as (typeof ids)[number]) + 1));
const peersOf = (self: string, ports: Record<string, number>): TcpPeer[] =>
  ids
    .filter((id) => id !== self)
    .map((id) => ({
      id,
      publicKey: keyOf(id).publicKey,
      host: "127.0.0.1",
      ...(ports[id] ? { port: ports[id] } : {}),
    }));

if (process.argv[2] === "bank")
  await runBank(process.argv[3]!, process.argv[4]!, JSON.parse(process.argv[5]!) as Record<string, number>);
else await runCoordinator();

/** A bank process: a durable ledger, a 2PC participant over TCP; prints JSON lines. */
async function runBank(id: string, dir: string, ports: Record<string, number>): Promise<void> {
  const owner = id === "bankA" ? alice : bob;
  const opening = id === "bankA" ? 100n : 20n;
  const ledger = await Ledger.open({
    dir,
    chainId: 1,
    genesis: [{ address: Uint8Array.from(Buffer.from(owner, "hex")), balance: opening }],
  });
  const db = new LedgerDatabase(ledger);
  const bank = new LedgerBank(db);
  const log = FileTwoPcLog.open(join(dir, "2pc.log"));
  const transport = await TcpTransport.start({
    id,
    key: keyOf(id),
    listen: { host: "127.0.0.1", port: 0 },
    peers: peersOf(id, ports),
  });
  const balance = () => String(db.backend.read(Uint8Array.from(Buffer.from(owner, "hex")))?.balance ?? 0n);
  const say = (o: object) => process.stdout.write(JSON.stringify({ id, ...o }) + "\n");
  const crashOnPrepare = process.env.CRASH_AFTER_PREPARED;
  const runner = new TwoPcRunner({
    transport,
    clock: systemClock,
    log,
    resource: bank,
    core: new Participant(id, bank, { coordinators: ["coord"], inquireMs: 100 }),
    // The fault of step 3: die after the PREPARED record is on disk, before the YES vote is sent.
    beforeEffect: (_node, e) =>
      !(
        crashOnPrepare !== undefined &&
        e.kind === "send" &&
        e.message.type === "vote" &&
        e.message.tx === crashOnPrepare
      ),
    onCrash: () => process.kill(process.pid, "SIGKILL"),
    observer: (_node, e) => {
      if (e.kind === "restore") say({ event: "recovered", tx: e.tx, locks: bank.locksHeld });
      if (e.kind === "force" && e.key.startsWith("2pc/p/"))
        say({ event: "forced", tx: e.key.slice(6), record: (e.record as { state: string }).state });
      if (e.kind === "outcome")
        say({
          event: "outcome",
          tx: e.tx,
          committed: e.committed,
          balance: balance(),
          locks: bank.locksHeld,
        });
    },
  });
  await runner.start();
  say({ event: "ready", port: transport.address!.port, balance: balance() });
}

/** One JSON line a bank prints (event, id, tx, balance, locks, …). */
type Line = Record<string, string | number | boolean>;

/** The coordinator (this process): starts the banks, runs the three transfers, checks the money. */
async function runCoordinator(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "chaindb-2pc-"));
  const children = new Map<string, ChildProcess>();
  const lines: Array<Line> = [];
  const waiters: Array<{ match: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  const waitFor = (match: (l: Line) => boolean, what: string, ms = 30_000) =>
    new Promise<Line>((resolve, reject) => {
      const hit = lines.find(match);
      if (hit) return resolve(hit);
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  const ports: Record<string, number> = {};
  const startBank = async (id: string, env: Record<string, string> = {}) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        "bank",
        id,
        join(root, id),
        JSON.stringify(ports),
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, ...env },
      },
    );
    children.set(id, child);
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const line = JSON.parse(text) as Line;
      lines.push(line);
      for (const w of waiters.splice(0)) w.match(line) ? w.resolve(line) : waiters.push(w);
    });
    const ready = await waitFor((l) => l.id === id && l.event === "ready", `${id} ready`);
    lines.splice(lines.indexOf(ready), 1);
    ports[id] = ready.port as number;
    return ready;
  };
  const log = FileTwoPcLog.open(join(root, "coordinator.log"));
  const transport = await TcpTransport.start({
    id: "coord",
    key: keyOf("coord"),
    listen: { host: "127.0.0.1", port: 0 },
    peers: peersOf("coord", {}),
  });
  ports.coord = transport.address!.port;
  const runner = new TwoPcRunner({
    transport,
    clock: systemClock,
    log,
    core: new Coordinator("coord", { voteTimeoutMs: 20_000, retryMs: 200 }),
  });
  await runner.start();
  try {
    // bankB listens first: bankA (the smaller id) dials it; both dial the coordinator.
    console.log(
      `bank B opens: Bob $${(await startBank("bankB", { CRASH_AFTER_PREPARED: "coord.1.3" })).balance}`,
    );
    console.log(`bank A opens: Alice $${(await startBank("bankA")).balance}`);
    const transfer = async (amount: bigint, story: string) => {
      const plan = new Map<string, TwoPcOp[]>([
        ["bankA", [{ account: alice, delta: -amount }]],
        ["bankB", [{ account: bob, delta: amount }]],
      ]);
      const { tx, outcome } = runner.begin(plan);
      console.log(`\n${story} (${tx})`);
      return { tx, outcome };
    };
    const settled = async (tx: string) => {
      const [a, b] = await Promise.all(
        ["bankA", "bankB"].map((id) =>
          waitFor((l) => l.id === id && l.event === "outcome" && l.tx === tx, `${id} outcome of ${tx}`),
        ),
      );
      console.log(
        `  bank A: ${a!.committed ? "committed" : "aborted"}, Alice $${a!.balance}, locks ${a!.locks}`,
      );
      console.log(
        `  bank B: ${b!.committed ? "committed" : "aborted"}, Bob $${b!.balance}, locks ${b!.locks}`,
      );
      if (a!.committed !== b!.committed) throw new Error(`${tx} is not atomic`);
      return BigInt(a!.balance as string) + BigInt(b!.balance as string);
    };
    // Connections are set up in the background; wait (bounded) until both banks are reachable.
    for (let i = 0; i < 200 && !(transport.isConnected("bankA") && transport.isConnected("bankB")); i++)
      await new Promise((r) => setTimeout(r, 25));

    const t1 = await transfer(30n, "1. Alice sends Bob $30");
    console.log(`  coordinator: ${(await t1.outcome) ? "COMMIT" : "ABORT"}`);
    if ((await settled(t1.tx)) !== 120n) throw new Error("money was created or destroyed");

    const t2 = await transfer(500n, "2. Alice tries to send Bob $500 (she has $70)");
    console.log(`  coordinator: ${(await t2.outcome) ? "COMMIT" : "ABORT"}`);
    if ((await settled(t2.tx)) !== 120n) throw new Error("money was created or destroyed");

    const t3 = await transfer(
      25n,
      "3. Alice sends Bob $25; bank B is killed after forcing PREPARED, before voting",
    );
    await waitFor((l) => l.id === "bankB" && l.event === "forced" && l.tx === t3.tx, "bank B's PREPARED");
    await new Promise<void>((resolve) => children.get("bankB")!.once("exit", () => resolve()));
    console.log(`  bank B died (SIGKILL) holding a prepared transfer; restarting it from its files`);
    await startBank("bankB");
    const recovered = await waitFor(
      (l) => l.id === "bankB" && l.event === "recovered" && l.tx === t3.tx,
      "bank B's recovery",
    );
    console.log(`  bank B recovered ${t3.tx} as prepared and re-took ${recovered.locks} lock(s)`);
    console.log(`  coordinator: ${(await t3.outcome) ? "COMMIT" : "ABORT"}`);
    const total = await settled(t3.tx);
    console.log(`\nacross both banks: $${total} (it was $120 before the transfers)`);
    if (total !== 120n) throw new Error("money was created or destroyed");
  } finally {
    // Cancels the coordinator's timers: it re-sends COMMIT every retryMs until all acks are in,
    // and an ack still in flight now would keep this process alive forever.
    runner.kill();
    for (const child of children.values()) child.kill("SIGKILL");
    await transport.close();
    log.close();
    rmSync(root, { recursive: true, force: true });
  }
}
