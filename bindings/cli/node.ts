/**
 * `chaindb node`: one replica over TCP — of a single-primary cluster (`--mode primary|secondary`)
 * or a multi-primary proof-of-work miner (`--mode pow`, blocks kept in `<data>/blocks`). Its id is its listen address;
 * peers are given as `host:port@<ed25519 public key hex>`; its own key is created on first start
 * and kept. Clients use a small HTTP API on the listen port + 1 (http.ts): `GET /status`, `POST /submit`
 * (body: a signed transfer in hex; 409 with the primary's id from a secondary), `GET /account/<hex>`;
 * it listens on loopback unless `--http-host` says otherwise, admin endpoints need loopback or
 * `--admin-token`, and each client gets `--http-rate` requests a second.
 * Each change of role, epoch or height is printed as one JSON line on stdout.
 * @module
 */
import { createHash, randomInt } from "node:crypto";
import { join } from "node:path";
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { ChainDbError, ErrorCode, aint, fromHex, toHex } from "../util/index.ts";
import { Ledger } from "../chain/index.ts";
import { createEngine } from "../engine/index.ts";
import {
  Random,
  TcpTransport,
  loadOrCreateNodeKey,
  systemClock,
  type NodeKey,
  type TcpPeer,
} from "../net/index.ts";
import { intOption, parseCommand, type CommandSpec } from "./args.ts";
import {
  FileKeyStorage,
  FileReplicaStore,
  PowNode,
  Replica,
  encodeEntry,
  type ReplicationMode,
} from "../replication/index.ts";
import { DEFAULT_HTTP_HOST, DEFAULT_HTTP_RATE, serveHttp, type HttpOptions } from "./http.ts";
import { DEV_CHAIN_ID, closeOnFailure, devGenesis, runUntilSignal } from "./dev-node.ts";

export { DEV_CHAIN_ID, closeOnFailure, devAccounts, devGenesis, runUntilSignal } from "./dev-node.ts";

/** The consensus kinds of `--consensus`: pow is the multi-primary miner (`--mode pow`), the others Tendermint. */
export const CONSENSUS_KINDS = ["pow", "tendermint", "pos", "dpos"] as const;
/** One of {@link CONSENSUS_KINDS}. */
export type ConsensusKind = (typeof CONSENSUS_KINDS)[number];

/** Parses `host:port`. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  if (m === null || Number(m[2]) > 65535)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `expected host:port, got ${JSON.stringify(text)}`);
  return { host: m[1]!, port: Number(m[2]) };
}

const NODE: CommandSpec = {
  name: "node",
  summary:
    "Runs one node over TCP until Ctrl-C: a replica of a single-primary cluster, a proof-of-work miner, or a Tendermint validator. Its id is its listen address; its key is created on first start and kept in the data directory. HTTP API on the listen port + 1 (on --http-host): GET /status, POST /submit (a signed transaction in hex), GET /account/<hex>. Prints one JSON line per change of role, epoch or height.",
  options: [
    { name: "data", value: "<dir>", help: "data directory, created if missing (required)" },
    { name: "listen", value: "<host:port>", help: "peer address to listen on; HTTP on port + 1 (required)" },
    {
      name: "peers",
      value: "<host:port@keyhex,...>",
      default: "",
      defaultText: "none",
      help: "the other nodes with their ed25519 public keys",
    },
    {
      name: "key",
      value: "<file>",
      defaultText: "<data>/node.key",
      help: "node key file (hex seed, created if missing)",
    },
    {
      name: "mode",
      value: "primary|secondary|pow",
      default: "primary",
      help: "replica that may become primary, replica that never does, or proof-of-work miner",
    },
    {
      name: "ack",
      value: "sync|async",
      default: "sync",
      help: "primary: acknowledge after the backups have the entry, or at once",
    },
    {
      name: "backups",
      value: "k",
      defaultText: "all",
      help: "primary --ack sync: backups that must have an entry before it is acknowledged",
    },
    { name: "block-ms", value: "ms", default: "500", help: "pow: mean time between blocks per node" },
    {
      name: "consensus",
      value: "pow|tendermint|pos|dpos",
      help: "pow is --mode pow; the others run a Tendermint validator with that selection",
    },
    {
      name: "validators",
      value: "<keyhex,...>",
      help: "consensus: the genesis validators' public keys (same list on every node)",
    },
    {
      name: "validator-key",
      value: "<file>",
      defaultText: "<data>/validator.key",
      help: "consensus: this validator's key file",
    },
    {
      name: "byzantine",
      value: "double-vote",
      help: "consensus testing: sign two votes per step (shows evidence and slashing)",
    },
    {
      name: "halt-height",
      value: "N",
      help: "consensus testing: stop taking part after committing height N",
    },
    {
      name: "http-host",
      value: "<host>",
      default: DEFAULT_HTTP_HOST,
      help: "where the HTTP API listens (loopback by default)",
    },
    {
      name: "admin-token",
      value: "<token>",
      help: "bearer token (16+ characters) for admin endpoints; without it they answer loopback only",
    },
    {
      name: "http-rate",
      value: "N",
      default: String(DEFAULT_HTTP_RATE.perSecond),
      help: "HTTP requests a second per client (429 beyond)",
    },
  ],
  examples: [
    "chaindb node --data ./n0 --listen 127.0.0.1:7000 --peers 127.0.0.1:7002@<public key hex of n1>",
  ],
};

/** Runs `node ...` until SIGINT/SIGTERM; returns the exit code. */
export async function nodeCommand(args: string[]): Promise<0 | 1 | 2> {
  const parsed = parseCommand(NODE, args);
  if (parsed === null) return 0;
  const values = parsed.values as Record<string, string | undefined>;
  if (values.data === undefined || values.listen === undefined)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      "node: --data and --listen are required (see chaindb node --help)",
    );
  const consensus = values.consensus;
  if (consensus !== undefined && !CONSENSUS_KINDS.includes(consensus as ConsensusKind)) {
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `node: --consensus expected ${CONSENSUS_KINDS.join(", ")}`,
    );
  }
  if (consensus === "pow") values.mode = "pow";
  if (values.mode !== "primary" && values.mode !== "secondary" && values.mode !== "pow") {
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node: --mode expected primary, secondary or pow`);
  }
  if (values.ack !== "sync" && values.ack !== "async")
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node: --ack expected sync or async`);
  checkDataDir(values.data);
  const listen = parseHostPort(values.listen);
  const httpRate = aint(Number(values["http-rate"]), 1, 1_000_000, "--http-rate");
  const http: HttpOptions = {
    host: values["http-host"],
    port: listen.port + 1,
    rate: { perSecond: httpRate, burst: 2 * httpRate },
    ...(values["admin-token"] !== undefined ? { adminToken: values["admin-token"] } : {}),
  };
  const self = `${listen.host}:${listen.port}`;
  const peers: TcpPeer[] = !values.peers
    ? []
    : values.peers.split(",").map((spec) => {
        const [address, keyHex] = spec.split("@");
        if (keyHex === undefined)
          throw new ChainDbError(
            ErrorCode.BAD_ARGUMENT,
            `--peers entries are host:port@<public key hex>, got ${spec}`,
          );
        const { host, port } = parseHostPort(address!);
        return { id: `${host}:${port}`, host, port, publicKey: fromHex(keyHex, "peer key") };
      });
  const key = loadOrCreateNodeKey(values.key ?? join(values.data, "node.key"));
  const nodes = [self, ...peers.map((p) => p.id)].sort();
  const syncBackups =
    values.backups === undefined ? undefined : aint(Number(values.backups), 0, nodes.length - 1, "--backups");
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
      haltHeight:
        values["halt-height"] === undefined
          ? undefined
          : aint(Number(values["halt-height"]), 1, Number.MAX_SAFE_INTEGER, "--halt-height"),
      http,
    });
  }
  if (values.mode === "pow")
    return runPowNode(
      values.data,
      self,
      listen,
      peers,
      key,
      nodes.length * intOption(values["block-ms"], "block-ms", 1, 3_600_000),
      http,
    );
  const genesis = devGenesis();
  // The ts state engine: the wasm engine refuses an empty block (the epoch-start block) as out of memory.
  const ledger = await Ledger.open({
    dir: join(values.data, "ledger"),
    chainId: DEV_CHAIN_ID,
    genesis,
    engine: "ts",
  });
  const store = new FileReplicaStore(join(values.data, "replica"));
  let transport: TcpTransport | undefined;
  let replica: Replica;
  try {
    transport = await TcpTransport.start({
      id: self,
      key,
      listen,
      peers,
      network: `chaindb-dev-${DEV_CHAIN_ID}`,
    });
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
  const server = await closeOnFailure(
    () =>
      serveHttp(http, {
        status: statusOf,
        submit: async (tx) => replica.submit(tx),
        account: (address) => replica.read(address),
      }),
    async () => (await replica.close(), await transport!.close(), await store.close(), await ledger.close()),
  );
  await runUntilSignal(self, key.publicKey, http.port, statusOf, (s) => [
    s.role,
    s.epoch,
    s.applied,
    s.primary,
  ]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await replica.close();
  await transport.close();
  await store.close();
  await ledger.close();
  return 0;
}

/**
 * `--data` must be a directory we can write (or one we can create): a file there is bad input
 * (exit 2); a directory we may not write is an operational failure (EACCES/EPERM/EROFS, exit 1),
 * reported before anything is opened so that nothing (a LOCK file, a socket) is left behind.
 */
function checkDataDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node: --data ${dir} is a file, expected a directory`);
  mkdirSync(dir, { recursive: true });
  accessSync(dir, constants.W_OK);
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

async function runPowNode(
  data: string,
  self: string,
  listen: { host: string; port: number },
  peers: TcpPeer[],
  key: NodeKey,
  mineEveryMs: number,
  http: HttpOptions,
): Promise<0> {
  const genesis = devGenesis();
  const transport = await TcpTransport.start({
    id: self,
    key,
    listen,
    peers,
    network: `chaindb-dev-pow-${DEV_CHAIN_ID}`,
  });
  const node = await closeOnFailure(
    async () =>
      PowNode.open({
        id: self,
        transport,
        clock: systemClock,
        random: new Random(randomInt(2 ** 31)),
        storage: new FileKeyStorage(join(data, "blocks")),
        engine: await createEngine("wasm"),
        openLedger: () => Ledger.open({ chainId: DEV_CHAIN_ID, genesis, engine: "ts" }),
        bits: DEV_POW_BITS,
        mineEveryMs,
      }),
    () => transport.close(),
  );
  const statusOf = () => ({
    ...node.status(),
    role: "miner",
    applied: node.status().height,
    peers: transport.peerIds.filter((p) => transport.isConnected(p)),
  });
  const server = await closeOnFailure(
    () =>
      serveHttp(http, {
        status: statusOf,
        submit: async (tx) => (node.submit(tx), { accepted: true }),
        account: (address) => node.account(address),
        mining: (on) => node.setMining(on),
      }),
    async () => (await node.close(), await transport.close()),
  );
  await runUntilSignal(self, key.publicKey, http.port, statusOf, (s) => [s.height, s.tip]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await node.close();
  await transport.close();
  return 0;
}
