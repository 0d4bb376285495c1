// The nodes' HTTP API with real requests over TCP: it listens on loopback by default; admin
// endpoints answer loopback only, or a bearer token given at start; every client is rate-limited
// (429 with a JSON error code and Retry-After, refilled on the injected clock). Then a real
// `chaindb node --consensus tendermint` process with one validator: it commits, and its API
// is on loopback only, with the same limits.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request, type Server } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { keyPairFromSeed, signTransfer } from "../../bindings/chain/index.ts";
import { serveHttp, isLoopback, type HttpApi, type HttpOptions } from "../../bindings/cli/http.ts";
import { DEV_CHAIN_ID, devAccounts } from "../../bindings/cli/node.ts";
import { toHex } from "../../bindings/util/index.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: string; message?: string; [k: string]: unknown };
}

/** One HTTP request; `localAddress` picks the client's source address. */
function call(
  host: string,
  port: number,
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string>; localAddress?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, method, path, headers: opts.headers, localAddress: opts.localAddress, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: JSON.parse(text) as Answer["body"],
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** This machine's first non-loopback IPv4 address (a client that is not local). */
function externalAddress(): string {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && !i.internal && i.family === "IPv4");
  expect(found, "these tests need a non-loopback IPv4 interface").toBeDefined();
  return found!.address;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

function fakeApi(log: string[]): HttpApi {
  return {
    status: () => ({ height: 7 }),
    submit: async (tx) => (log.push(`submit ${toHex(tx)}`), { accepted: true }),
    account: (address) => (address[0] === 1 ? { balance: 5n, nonce: 2n } : undefined),
    mining: (on) => void log.push(`mining ${on}`),
  };
}

async function start(
  options: Omit<HttpOptions, "port">,
  log: string[] = [],
): Promise<{ port: number; log: string[] }> {
  const server = await serveHttp({ port: 0, ...options }, fakeApi(log));
  servers.push(server);
  return { port: (server.address() as { port: number }).port, log };
}

describe("HTTP API: where it listens and who may administer it", () => {
  it("listens on loopback by default: another interface's address is refused", async () => {
    const { port } = await start({});
    expect((await call("127.0.0.1", port, "GET", "/status")).body).toEqual({ height: 7 });
    await expect(call(externalAddress(), port, "GET", "/status")).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
  });

  it("without a token, admin endpoints answer loopback clients only (403 with a code for others)", async () => {
    const external = externalAddress();
    const { port, log } = await start({ host: "0.0.0.0" });
    const local = await call("127.0.0.1", port, "POST", "/mining/off");
    expect([local.status, local.body]).toEqual([200, { mining: false }]);
    const remote = await call(external, port, "POST", "/mining/on", { localAddress: external });
    expect(remote.status).toBe(403);
    expect(remote.body.error).toBe("UNAUTHORIZED");
    expect(log).toEqual(["mining false"]);
    // Public endpoints stay public.
    expect((await call(external, port, "GET", "/status", { localAddress: external })).status).toBe(200);
  });

  it("with --admin-token, admin endpoints need the bearer token from everyone, loopback included", async () => {
    const external = externalAddress();
    const token = "s3cret-token-0123456789";
    const { port, log } = await start({ host: "0.0.0.0", adminToken: token });
    for (const auth of [
      undefined,
      "Bearer wrong-token-0123456789",
      `Bearer ${token}x`,
      token,
      `Bearer ${token.slice(0, -1)}`,
    ]) {
      const r = await call(
        "127.0.0.1",
        port,
        "POST",
        "/mining/on",
        auth === undefined ? {} : { headers: { authorization: auth } },
      );
      expect([r.status, r.body.error, r.headers["www-authenticate"]]).toEqual([
        401,
        "UNAUTHORIZED",
        "Bearer",
      ]);
    }
    const ok = await call(external, port, "POST", "/mining/on", {
      localAddress: external,
      headers: { authorization: `Bearer ${token}` },
    });
    expect([ok.status, ok.body]).toEqual([200, { mining: true }]);
    expect(log).toEqual(["mining true"]);
  });

  it("refuses a short admin token at start with a code", () => {
    expect(() => serveHttp({ port: 0, adminToken: "short" }, fakeApi([]))).toThrow(
      expect.objectContaining({ code: "BAD_ARGUMENT" }),
    );
  });

  it("loopback means 127/8, ::1 and IPv4-mapped 127/8", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"].map(isLoopback)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(
      ["10.0.0.1", "::ffff:10.0.0.1", "fd00::2", "0.0.0.0", "127.0.0.1.evil", undefined].map(isLoopback),
    ).toEqual([false, false, false, false, false, false]);
  });
});

describe("HTTP API: rate limits and errors", () => {
  it("rate-limits each client with a token bucket on the injected clock: 429, a JSON code, Retry-After", async () => {
    let now = 0;
    const external = externalAddress();
    const { port } = await start({ host: "0.0.0.0", rate: { perSecond: 2, burst: 3 }, now: () => now });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call("127.0.0.1", port, "GET", "/status")).status);
    const limited = await call("127.0.0.1", port, "GET", "/account/01");
    expect(statuses).toEqual([200, 200, 200]);
    expect([limited.status, limited.body.error, limited.headers["retry-after"]]).toEqual([
      429,
      "RATE_LIMITED",
      "1",
    ]);
    expect((await call("127.0.0.1", port, "POST", "/submit", { body: "00" })).status).toBe(429);
    // Another client has its own bucket.
    expect((await call(external, port, "GET", "/status", { localAddress: external })).status).toBe(200);
    now += 500; // one token back
    expect((await call("127.0.0.1", port, "GET", "/status")).status).toBe(200);
    expect((await call("127.0.0.1", port, "GET", "/status")).status).toBe(429);
  });

  it("answers bad input and unknown paths with JSON codes, not 500", async () => {
    const { port, log } = await start({});
    const bad = await call("127.0.0.1", port, "GET", "/account/zz");
    expect([bad.status, bad.body.error]).toEqual([400, "BAD_HEX"]);
    const missing = await call("127.0.0.1", port, "GET", "/account/02");
    expect([missing.status, missing.body.error]).toEqual([404, "NOT_FOUND"]);
    expect((await call("127.0.0.1", port, "GET", "/account/01")).body).toEqual({ balance: "5", nonce: "2" });
    const nowhere = await call("127.0.0.1", port, "DELETE", "/status");
    expect([nowhere.status, nowhere.body.error]).toEqual([404, "NOT_FOUND"]);
    const big = await call("127.0.0.1", port, "POST", "/submit", { body: "00".repeat(2000) });
    expect([big.status, big.body.error]).toEqual([413, "BAD_LENGTH"]);
    expect((await call("127.0.0.1", port, "POST", "/submit", { body: "abcd\n" })).body).toEqual({
      accepted: true,
    });
    expect(log).toEqual(["submit abcd"]);
  });
});

// ---------------------------------------------------------------- a real node process

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("chaindb node --consensus tendermint with one validator (process, HTTP)", () => {
  it("commits blocks, takes a transfer over HTTP, serves loopback only, and rate-limits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaindb-http-node-"));
    dirs.push(dir);
    const seed = new Uint8Array(32).fill(77);
    mkdirSync(join(dir, "n0"), { recursive: true });
    writeFileSync(join(dir, "n0", "validator.key"), toHex(seed) + "\n");
    const validator = toHex(keyPairFromSeed(seed).publicKey);
    const listen = await freePort();
    const args = [
      "--import",
      "tsx",
      "bindings/cli/bin.ts",
      "node",
      "--data",
      join(dir, "n0"),
      "--listen",
      `127.0.0.1:${listen}`,
      "--consensus",
      "tendermint",
      "--validators",
      validator,
      "--http-rate",
      "5",
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    let height = 0;
    let failure: unknown = null;
    const waiters: (() => void)[] = [];
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = JSON.parse(buffered.slice(0, nl)) as {
          event?: string;
          height?: number;
          failure?: unknown;
        };
        buffered = buffered.slice(nl + 1);
        if (line.event === "status") [height, failure] = [line.height!, line.failure ?? null];
        for (const w of waiters.splice(0)) w();
      }
    });
    const until = (done: () => boolean, ms: number) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(done()), ms);
        const check = () => (done() ? (clearTimeout(timer), resolve(true)) : waiters.push(check));
        check();
      });
    // Before the fix the process failed at start: "internal error: engine at height 2, ledger at 0".
    expect(
      await until(() => height >= 2, 60_000),
      `height ${height} failure ${String(failure)} stderr ${stderr.slice(-500)}`,
    ).toBe(true);
    const port = listen + 1;
    const [alice, bob] = devAccounts(2);
    const tx = signTransfer(alice!, {
      chainId: DEV_CHAIN_ID,
      to: bob!.publicKey,
      amount: 3,
      fee: 1,
      nonce: 0,
    });
    const submitted = await call("127.0.0.1", port, "POST", "/submit", { body: toHex(tx) });
    expect([submitted.status, submitted.body]).toEqual([200, { accepted: true }]);
    const gap = signTransfer(alice!, {
      chainId: DEV_CHAIN_ID,
      to: bob!.publicKey,
      amount: 3,
      fee: 1,
      nonce: 1000,
    });
    const refused = await call("127.0.0.1", port, "POST", "/submit", { body: toHex(gap) });
    expect([refused.status, refused.body.error]).toEqual([400, "NONCE_GAP"]);
    const at = height;
    expect(await until(() => height >= at + 2, 30_000)).toBe(true);
    // Burst of 10 at --http-rate 5: the rest of a quick burst of 12 is refused.
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => call("127.0.0.1", port, "GET", `/account/${toHex(alice!.publicKey)}`)),
    );
    const ok = burst.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThan(12);
    expect(burst.filter((r) => r.status === 429).every((r) => r.body.error === "RATE_LIMITED")).toBe(true);
    expect(ok.every((r) => r.body.nonce === "1")).toBe(true);
    await expect(call(externalAddress(), port, "GET", "/status")).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(failure).toBe(null);
  }, 120_000);
});
