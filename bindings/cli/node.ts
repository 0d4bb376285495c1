/**
 * `chaindb node`: one replica over TCP — of a single-primary cluster (`--mode primary|secondary`)
 * or a multi-primary proof-of-work miner (`--mode pow`, blocks kept in `<data>/blocks`). Its id is its listen address;
 * peers are given as `host:port@<ed25519 public key hex>`; its own key is created on first start
 * and kept. Clients use a small HTTP API on the listen port + 1: `GET /status`, `POST /submit`
 * (body: a signed transfer in hex; 409 with the primary's id from a secondary), `GET /account/<hex>`.
 * Each change of role, epoch or height is printed as one JSON line on stdout.
 * @module
 */
import { createHash, randomInt } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ChainDbError, ErrorCode, aint, fromHex, toHex } from "../util/index.ts";
import { Ledger } from "../chain/index.ts";
import { createEngine } from "../engine/index.ts";
import { Random, TcpTransport, loadOrCreateNodeKey, systemClock, type NodeKey, type TcpPeer } from "../net/index.ts";
import { FileKeyStorage, FileReplicaStore, PowNode, Replica, encodeEntry, type ReplicationMode } from "../replication/index.ts";
import { DEV_CHAIN_ID, devGenesis, runUntilSignal, serveHttp } from "./dev-node.ts";

export { DEV_CHAIN_ID, devAccounts, devGenesis, runUntilSignal, serveHttp, type HttpApi } from "./dev-node.ts";

/** The consensus kinds of `--consensus`: pow is the multi-primary miner (`--mode pow`), the others Tendermint. */
export const CONSENSUS_KINDS = ["pow", "tendermint", "pos", "dpos"] as const;
/** One of {@link CONSENSUS_KINDS}. */
export type ConsensusKind = (typeof CONSENSUS_KINDS)[number];

/** Parses `host:port`. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  if (m === null || Number(m[2]) > 65535) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `expected host:port, got ${JSON.stringify(text)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Runs `node ...` until SIGINT/SIGTERM; returns the exit code. */
export async function nodeCommand(args: string[]): Promise<0 | 1 | 2> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: "string" },
      listen: { type: "string" },
      peers: { type: "string", default: "" },
      key: { type: "string" },
      mode: { type: "string", default: "primary" },
      ack: { type: "string", default: "sync" },
      "block-ms": { type: "string", default: "500" },
      backups: { type: "string" },
      consensus: { type: "string" },
      validators: { type: "string" },
      "validator-key": { type: "string" },
      byzantine: { type: "string" },
      "halt-height": { type: "string" },
    },
  });
  if (values.data === undefined || values.listen === undefined) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "node: --data and --listen are required");
  const consensus = values.consensus;
  if (consensus !== undefined && !CONSENSUS_KINDS.includes(consensus as ConsensusKind)) {
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node: --consensus expected ${CONSENSUS_KINDS.join(", ")}`);
  }
  if (consensus === "pow") values.mode = "pow";
  if (values.mode !== "primary" && values.mode !== "secondary" && values.mode !== "pow") {
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node: --mode expected primary, secondary or pow`);
  }
  if (values.ack !== "sync" && values.ack !== "async") throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node: --ack expected sync or async`);
  const listen = parseHostPort(values.listen);
  const self = `${listen.host}:${listen.port}`;
  const peers: TcpPeer[] = values.peers === "" ? [] : values.peers.split(",").map((spec) => {
    const [address, keyHex] = spec.split("@");
    if (keyHex === undefined) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--peers entries are host:port@<public key hex>, got ${spec}`);
    const { host, port } = parseHostPort(address!);
    return { id: `${host}:${port}`, host, port, publicKey: fromHex(keyHex, "peer key") };
  });
  const key = loadOrCreateNodeKey(values.key ?? join(values.data, "node.key"));
  const nodes = [self, ...peers.map((p) => p.id)].sort();
  const syncBackups = values.backups === undefined ? undefined : aint(Number(values.backups), 0, nodes.length - 1, "--backups");
  if (consensus !== undefined && consensus !== "pow") {
    const { runConsensusNode } = await import("./consensus-node.ts");
    return runConsensusNode({
      data: values.data,
      self,
      listen,
      peers,
      nodeKey: key,
      selection: consensus as "tendermint" | "pos" | "dpos",
      validators: values.validators,
      validatorKeyPath: values["validator-key"] ?? join(values.data, "validator.key"),
      byzantine: values.byzantine,
      haltHeight: values["halt-height"] === undefined ? undefined : aint(Number(values["halt-height"]), 1, Number.MAX_SAFE_INTEGER, "--halt-height"),
    });
  }
  if (values.mode === "pow") return runPowNode(values.data, self, listen, peers, key, nodes.length * Number(values["block-ms"]));
  const genesis = devGenesis();
  // The ts state engine: the wasm engine refuses an empty block (the epoch-start block) as out of memory.
  const ledger = await Ledger.open({ dir: join(values.data, "ledger"), chainId: DEV_CHAIN_ID, genesis, engine: "ts" });
  const store = new FileReplicaStore(join(values.data, "replica"));
  let transport: TcpTransport | undefined;
  let replica: Replica;
  try {
    transport = await TcpTransport.start({ id: self, key, listen, peers, network: `chaindb-dev-${DEV_CHAIN_ID}` });
    replica = await Replica.open({
      id: self,
      config: {
        nodes,
        mode: values.ack as ReplicationMode,
        candidates: values.mode === "secondary" ? nodes.filter((n) => n !== self) : nodes,
        ...(syncBackups !== undefined ? { syncBackups } : {}),
      },
      transport,
      clock: systemClock,
      random: new Random(randomInt(2 ** 31)),
      store,
      ledger,
      proposer: key.publicKey,
    });
  } catch (error) {
    // A failed start must not leave a listening socket (the process would never exit).
    await transport?.close();
    await store.close();
    await ledger.close();
    throw error;
  }
  const statusOf = () => nodeStatus(replica, transport);
  const http = await serveHttp(listen.host, listen.port + 1, {
    status: statusOf,
    submit: async (tx) => replica.submit(tx),
    account: (address) => replica.read(address),
  });
  await runUntilSignal(self, key.publicKey, listen.port + 1, statusOf, (s) => [s.role, s.epoch, s.applied, s.primary]);
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await replica.close();
  await transport.close();
  await store.close();
  await ledger.close();
  return 0;
}

/** A node's status as the HTTP API and the status lines show it. */
export function nodeStatus(replica: Replica, transport: TcpTransport) {
  const s = replica.status();
  const tipEntry = s.applied > 0 ? replica.entry(s.applied) : undefined;
  return {
    id: s.id,
    role: s.role,
    epoch: s.epoch,
    primary: s.primary,
    height: s.applied,
    lastHeight: s.lastHeight,
    commit: s.commit,
    applied: s.applied,
    root: toHex(s.root),
    tip: tipEntry === undefined ? "" : createHash("sha256").update(encodeEntry(tipEntry)).digest("hex"),
    peers: transport.peerIds.filter((p) => transport.isConnected(p)),
  };
}

/** Compact target of development proof-of-work chains (regtest: about two hashes per block). */
export const DEV_POW_BITS = 0x207fffff;

async function runPowNode(data: string, self: string, listen: { host: string; port: number }, peers: TcpPeer[], key: NodeKey, mineEveryMs: number): Promise<0> {
  const genesis = devGenesis();
  const transport = await TcpTransport.start({ id: self, key, listen, peers, network: `chaindb-dev-pow-${DEV_CHAIN_ID}` });
  const node = await PowNode.open({
    id: self,
    transport,
    clock: systemClock,
    random: new Random(randomInt(2 ** 31)),
    storage: new FileKeyStorage(join(data, "blocks")),
    engine: await createEngine("wasm"),
    openLedger: () => Ledger.open({ chainId: DEV_CHAIN_ID, genesis, engine: "ts" }),
    bits: DEV_POW_BITS,
    mineEveryMs,
  });
  const statusOf = () => ({ ...node.status(), role: "miner", applied: node.status().height, peers: transport.peerIds.filter((p) => transport.isConnected(p)) });
  const http = await serveHttp(listen.host, listen.port + 1, {
    status: statusOf,
    submit: async (tx) => (node.submit(tx), { accepted: true }),
    account: (address) => node.account(address),
    mining: (on) => node.setMining(on),
  });
  await runUntilSignal(self, key.publicKey, listen.port + 1, statusOf, (s) => [s.height, s.tip]);
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await node.close();
  await transport.close();
  return 0;
}
