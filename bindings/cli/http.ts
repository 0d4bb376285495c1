/**
 * The nodes' HTTP API (every `chaindb node` mode serves it):
 *
 * - public: `GET /status`, `GET /account/<address hex>`, `POST /submit` (body: a signed
 *   transaction in hex, at most 2 KiB);
 * - admin: `POST /mining/on|off` (proof-of-work nodes). Without an admin token an admin request
 *   is served only from a loopback address (127.0.0.0/8, ::1); with `adminToken` set it needs
 *   `Authorization: Bearer <token>` from any address, compared in constant time.
 *
 * Every request, admin or public, is paid from its client's token bucket (one per remote
 * address, injected clock; default 20 a second, 40 saved up): over it the answer is 429 with a
 * `Retry-After` header. Errors are JSON `{ "error": CODE, "message": … }` with a code of
 * util/errors.ts. Connections, header and request times are bounded too. Behind a reverse proxy on
 * the same host every client looks like loopback: set a token then.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ChainDbError, ErrorCode, RateLimiter, fromHex, type Rate } from "../util/index.ts";
import { NotPrimaryError } from "../replication/index.ts";

/** What the HTTP API serves, per mode. */
export interface HttpApi {
  status: () => object;
  submit: (transfer: Uint8Array) => Promise<object>;
  account: (address: Uint8Array) => { balance: bigint; nonce: bigint } | undefined;
  /** Admin: turns mining on or off (proof-of-work nodes). */
  mining?: (on: boolean) => void;
}

/** Where and how the API listens. */
export interface HttpOptions {
  /** Listen address; default {@link DEFAULT_HTTP_HOST} (loopback). */
  readonly host?: string;
  readonly port: number;
  /** Admin requests need `Authorization: Bearer <token>` (at least 16 characters); omitted: loopback only. */
  readonly adminToken?: string;
  /** Requests per client; default {@link DEFAULT_HTTP_RATE}. */
  readonly rate?: Rate;
  /** Milliseconds for the rate limiter (tests inject one); default `performance.now`. */
  readonly now?: () => number;
}

/** The API listens on loopback unless told otherwise. */
export const DEFAULT_HTTP_HOST = "127.0.0.1";
/** Per client: 20 requests a second, 40 saved up. */
export const DEFAULT_HTTP_RATE: Rate = { perSecond: 20, burst: 40 };
/** Shortest admin token accepted. */
export const ADMIN_TOKEN_MIN = 16;
const BODY_MAX = 2048;
const CONNECTIONS_MAX = 256;
const CLIENTS_MAX = 10_000;

/** Serves `api`; resolves once listening (rejects with the listen error, e.g. EADDRINUSE). */
export function serveHttp(options: HttpOptions, api: HttpApi): Promise<Server> {
  const token = options.adminToken;
  if (token !== undefined && token.length < ADMIN_TOKEN_MIN)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `admin token expected at least ${ADMIN_TOKEN_MIN} characters, got ${token.length}`,
    );
  const limiter = new RateLimiter(
    options.rate ?? DEFAULT_HTTP_RATE,
    options.now ?? (() => performance.now()),
    CLIENTS_MAX,
  );
  const tokenDigest = token === undefined ? null : digest(token);
  const server = createServer((req, res) => {
    void handle(req, res, api, limiter, tokenDigest).catch((error: unknown) => {
      if (error instanceof ChainDbError) return fail(res, error.code, error.message);
      reply(res, 500, { error: "INTERNAL", message: error instanceof Error ? error.message : String(error) });
    });
  });
  server.maxConnections = CONNECTIONS_MAX;
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? DEFAULT_HTTP_HOST, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  api: HttpApi,
  limiter: RateLimiter,
  tokenDigest: Buffer | null,
): Promise<void> {
  const client = req.socket.remoteAddress ?? "unknown";
  if (!limiter.take(client)) {
    res.setHeader("retry-after", String(Math.max(1, Math.ceil(limiter.waitMs(client) / 1000))));
    return fail(
      res,
      ErrorCode.RATE_LIMITED,
      `too many requests from ${client}; retry in ${limiter.waitMs(client)} ms`,
    );
  }
  const url = req.url ?? "";
  if (req.method === "POST" && (url === "/mining/on" || url === "/mining/off") && api.mining !== undefined) {
    const refusal = adminRefusal(req, tokenDigest);
    if (refusal !== null) return fail(res, ErrorCode.UNAUTHORIZED, refusal, tokenDigest === null ? 403 : 401);
    api.mining(url === "/mining/on");
    return reply(res, 200, { mining: url === "/mining/on" });
  }
  if (req.method === "GET" && url === "/status") return reply(res, 200, api.status());
  if (req.method === "GET" && url.startsWith("/account/")) {
    const account = api.account(fromHex(url.slice("/account/".length), "address"));
    if (account === undefined) return fail(res, ErrorCode.NOT_FOUND, "no such account");
    return reply(res, 200, { balance: account.balance.toString(), nonce: account.nonce.toString() });
  }
  if (req.method === "POST" && url === "/submit") {
    let body = "";
    for await (const chunk of req) {
      body += String(chunk);
      if (body.length > BODY_MAX) return fail(res, ErrorCode.BAD_LENGTH, `body over ${BODY_MAX} bytes`, 413);
    }
    try {
      return reply(res, 200, await api.submit(fromHex(body.trim(), "transfer")));
    } catch (error) {
      if (error instanceof NotPrimaryError)
        return reply(res, 409, { error: error.code, primary: error.primary ?? null, message: error.message });
      throw error;
    }
  }
  return fail(res, ErrorCode.NOT_FOUND, `no ${req.method ?? ""} ${url.slice(0, 100)}`);
}

/** Why an admin request is refused, or null when it may go on. */
function adminRefusal(req: IncomingMessage, tokenDigest: Buffer | null): string | null {
  if (tokenDigest === null)
    return isLoopback(req.socket.remoteAddress)
      ? null
      : "admin endpoints answer loopback only (start the node with --admin-token to allow others)";
  const header = req.headers.authorization ?? "";
  const given = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
  // Digests first: timingSafeEqual needs equal lengths, and the token's length must not leak either.
  return timingSafeEqual(digest(given), tokenDigest)
    ? null
    : "admin endpoints need Authorization: Bearer <admin token>";
}

/** Whether `address` is a loopback address (IPv4 127/8, IPv6 ::1, or IPv4-mapped 127/8). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  return address === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** HTTP status of a refusal with this code. */
function statusOf(code: string): number {
  switch (code) {
    case ErrorCode.RATE_LIMITED:
      return 429;
    case ErrorCode.UNAUTHORIZED:
      return 401;
    case ErrorCode.NOT_FOUND:
      return 404;
    case ErrorCode.BUSY:
    case ErrorCode.MEMPOOL_FULL:
      return 503;
    default:
      return 400;
  }
}

function fail(res: ServerResponse, code: string, message: string, status = statusOf(code)): void {
  if (status === 401) res.setHeader("www-authenticate", "Bearer");
  reply(res, status, { error: code, message });
}

function reply(res: ServerResponse, status: number, body: object): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
}
