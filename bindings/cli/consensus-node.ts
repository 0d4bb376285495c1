/**
 * `chaindb node --consensus tendermint|pos|dpos`: a Tendermint validator over TCP (a
 * {@link ConsensusNode}) with the development genesis. The genesis validators are given by
 * `--validators <public key hex,…>` (every node of a chain passes the same list); this node's
 * validator key is kept in `--validator-key` (default `<data>/validator.key`, a 32-byte seed in hex,
 * created on first start). HTTP API on the listen port + 1 as for the other modes (http.ts): `GET /status`,
 * `POST /submit` (a signed transfer or staking transaction in hex), `GET /account/<hex>`.
 * Testing flags: `--byzantine double-vote` makes this validator sign two votes per step (so a run
 * shows evidence and slashing); `--halt-height N` stops taking part after committing N.
 * Prints JSON lines: status changes, and one `slash` line per offender slashed.
 * @module
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ChainDbError, ErrorCode, fromHex, toHex } from "../util/index.ts";
import { keyPairFromSeed, type KeyPair } from "../chain/index.ts";
import { ConsensusNode, byzantine, type ChainGenesis } from "../consensus/index.ts";
import { TcpTransport, systemClock, type NodeKey, type TcpPeer } from "../net/index.ts";
import { DEV_CHAIN_ID, closeOnFailure, devGenesis, runUntilSignal } from "./dev-node.ts";
import { serveHttp, type HttpOptions } from "./http.ts";

/** Bonded stake of each genesis validator under PoS, and the balance every validator account starts with. */
export const DEV_VALIDATOR_STAKE = 1_000_000n;

/** What `node --consensus …` needs. */
export interface ConsensusNodeArgs {
  data: string;
  self: string;
  listen: { host: string; port: number };
  peers: TcpPeer[];
  nodeKey: NodeKey;
  selection: "tendermint" | "pos" | "dpos";
  validators: string | undefined;
  validatorKeyPath: string;
  byzantine: string | undefined;
  haltHeight: number | undefined;
  /** The HTTP API's address, admin token and rate (see http.ts). */
  http: HttpOptions;
}

/** Reads the validator key seed at `path`, or creates one (mode 0600). */
export function loadOrCreateValidatorKey(path: string): KeyPair {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, toHex(randomBytes(32)) + "\n", { mode: 0o600 });
  }
  return keyPairFromSeed(fromHex(readFileSync(path, "utf8").trim(), "validator key"));
}

/** The development genesis of a consensus chain with these validators (same on every node). */
export function devConsensusGenesis(
  selection: "tendermint" | "pos" | "dpos",
  validators: readonly Uint8Array[],
): ChainGenesis {
  return {
    accounts: [...devGenesis(), ...validators.map((address) => ({ address, balance: DEV_VALIDATOR_STAKE }))],
    validators: validators.map((address) => ({ address, stake: DEV_VALIDATOR_STAKE })),
    selection: {
      mode: selection,
      unbondingHeights: 10,
      slashPpm: 100_000,
      maxValidators: selection === "dpos" ? validators.length : 100,
      epochHeights: 10,
    },
  };
}

/** Runs a consensus node until SIGINT/SIGTERM. */
export async function runConsensusNode(a: ConsensusNodeArgs): Promise<0> {
  if (a.validators === undefined)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      "node --consensus: --validators <public key hex,…> is required",
    );
  if (a.byzantine !== undefined && a.byzantine !== "double-vote")
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "node: --byzantine expected double-vote");
  const validators = a.validators.split(",").map((hex) => fromHex(hex, "validator"));
  const key = loadOrCreateValidatorKey(a.validatorKeyPath);
  const transport = await TcpTransport.start({
    id: a.self,
    key: a.nodeKey,
    listen: a.listen,
    peers: a.peers,
    network: `chaindb-dev-${a.selection}-${DEV_CHAIN_ID}`,
  });
  const print = (line: object) => process.stdout.write(JSON.stringify(line) + "\n");
  let node: ConsensusNode;
  try {
    node = await ConsensusNode.open({
      chainId: DEV_CHAIN_ID,
      genesis: devConsensusGenesis(a.selection, validators),
      key, // a validator when in the set (PoS: once it stakes), a follower otherwise
      transport,
      clock: systemClock,
      dir: join(a.data, "consensus"),
      timeouts: {
        proposeMs: 1000,
        proposeDeltaMs: 500,
        prevoteMs: 500,
        prevoteDeltaMs: 250,
        precommitMs: 500,
        precommitDeltaMs: 250,
      },
      newHeightDelayMs: 200,
      tickMs: 250,
      ...(a.haltHeight !== undefined ? { haltHeight: a.haltHeight } : {}),
      ...(a.byzantine === "double-vote"
        ? { behavior: byzantine("double-vote", { variant: (v) => v, corrupt: (v) => v }) }
        : {}),
      onCommit: (b) => {
        for (const offender of b.slashed) {
          const inSet = (h: number) => node.validatorsAt(h).indexOf(offender) >= 0;
          print({
            event: "slash",
            height: b.height,
            offender: toHex(offender),
            inSetNext: inSet(b.height + 1),
            inSetAfterNext: inSet(b.height + 2),
          });
        }
      },
    });
  } catch (error) {
    await transport.close();
    throw error;
  }
  const statusOf = () => {
    const s = node.status();
    const validator = s.validators.some((v) => v.address === toHex(key.publicKey));
    return {
      id: a.self,
      role: validator ? "validator" : "follower",
      epoch: 0,
      height: s.height,
      commit: s.height,
      applied: s.height,
      root: s.root,
      tip: s.tip,
      round: s.round,
      mempool: s.mempool,
      validators: s.validators.map((v) => v.address),
      halted: s.halted,
      inboxDropped: s.inboxDropped,
      syncRefused: s.syncRefused,
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an Error (or a thrown value): "Name: message"
      failure: node.failure === null ? null : String(node.failure),
      peers: transport.peerIds.filter((p) => transport.isConnected(p)),
    };
  };
  const server = await closeOnFailure(
    () =>
      serveHttp(a.http, {
        status: statusOf,
        submit: async (tx) => node.submit(tx),
        account: (address) => node.accounts.account(address),
      }),
    async () => (await node.close(), await transport.close()),
  );
  await runUntilSignal(a.self, key.publicKey, a.http.port, statusOf, (s) => [
    s.height,
    s.role,
    s.validators.length,
    s.halted,
    s.failure,
  ]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await node.close();
  await transport.close();
  return 0;
}
