/**
 * What every `chaindb node` mode shares: the development chain (its id, accounts and genesis), the
 * status printer that runs until a signal, and the HTTP API on the listen port + 1. Apart from
 * node.ts so the consensus node (consensus-node.ts) uses them without importing its dispatcher.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { ChainDbError, ErrorCode, fromHex, toHex } from "../util/index.ts";
import { keyPairFromSeed, type KeyPair } from "../chain/index.ts";
import { NotPrimaryError } from "../replication/index.ts";

/** Chain id of local clusters. */
export const DEV_CHAIN_ID = 0xc4a1;
/** Accounts of the development genesis (deterministic keys, so any tool can sign for them). */
export function devAccounts(count = 16): KeyPair[] {
  return Array.from({ length: count }, (_, i) => keyPairFromSeed(createHash("sha256").update(`chaindb dev account ${i}`).digest()));
}

/** What the HTTP API serves, per mode. */
export interface HttpApi {
  status: () => object;
  submit: (transfer: Uint8Array) => Promise<object>;
  account: (address: Uint8Array) => { balance: bigint; nonce: bigint } | undefined;
  mining?: (on: boolean) => void;
}

/** Prints a status line on each change of `key(status)` until SIGINT or SIGTERM. */
export async function runUntilSignal<S extends object>(id: string, publicKey: Uint8Array, http: number, status: () => S, key: (s: S) => unknown[]): Promise<void> {
  let last = "";
  const ticker = setInterval(() => {
    const s = status();
    const line = JSON.stringify(key(s));
    if (line !== last) process.stdout.write(JSON.stringify({ event: "status", ...s }) + "\n");
    last = line;
  }, 50);
  process.stdout.write(JSON.stringify({ event: "started", id, publicKey: toHex(publicKey), http }) + "\n");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  clearInterval(ticker);
}

/** The development genesis: every dev account with 10^12. */
export function devGenesis() {
  return devAccounts().map((k) => ({ address: k.publicKey, balance: 1_000_000_000_000n }));
}

/** Serves the node's HTTP API on `host:port`. */
export function serveHttp(host: string, port: number, api: HttpApi): Promise<Server> {
  const server = createServer((req, res) => void handle(req, res, api).catch((error: Error) => reply(res, 500, { error: error.message })));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, api: HttpApi): Promise<void> {
  if (req.method === "GET" && req.url === "/status") return reply(res, 200, api.status());
  if (req.method === "POST" && (req.url === "/mining/on" || req.url === "/mining/off") && api.mining !== undefined) {
    api.mining(req.url === "/mining/on");
    return reply(res, 200, { mining: req.url === "/mining/on" });
  }
  if (req.method === "GET" && req.url?.startsWith("/account/")) {
    const account = api.account(fromHex(req.url.slice("/account/".length), "address"));
    return reply(res, account ? 200 : 404, account ? { balance: account.balance.toString(), nonce: account.nonce.toString() } : { error: "no such account" });
  }
  if (req.method === "POST" && req.url === "/submit") {
    let body = "";
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 2048) return reply(res, 413, { error: "body too large" });
    }
    try {
      const r = await api.submit(fromHex(body.trim(), "transfer"));
      return reply(res, 200, r);
    } catch (error) {
      if (error instanceof NotPrimaryError) return reply(res, 409, { error: error.code, primary: error.primary ?? null, message: error.message });
      if (error instanceof ChainDbError) return reply(res, error.code === ErrorCode.BUSY ? 503 : 400, { error: error.code, message: error.message });
      throw error;
    }
  }
  return reply(res, 404, { error: "not found" });
}

function reply(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
}
