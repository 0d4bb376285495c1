/**
 * `chaindb mine` and `chaindb verify`.
 * @module
 */
import { parseArgs } from "node:util";
import { decodeHeader, encodeHeader, setNonce } from "../chain/index.ts";
import { checkProofOfWork, mine, type MineProgress } from "../pow/index.ts";
import { ChainDbError, ErrorCode, fromHex, reverseBytes, toHex } from "../util/index.ts";
import type { ExitCode } from "./exit-code.ts";

/** `chaindb mine --bits <hex> [--header <hex>] [--workers N] [--engine wasm|ts] [--json]`. */
export async function mineCommand(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      bits: { type: "string" },
      header: { type: "string" },
      workers: { type: "string" },
      engine: { type: "string", default: "wasm" },
      json: { type: "boolean", default: false },
    },
  });
  const header = startHeader(values.header, values.bits);
  const engine = values.engine;
  if (engine !== "wasm" && engine !== "ts") throw new ChainDbError(ErrorCode.BAD_ENGINE, `--engine expected wasm or ts, got "${engine}"`);
  const workers = values.workers === undefined ? undefined : parseCount(values.workers, "--workers");
  const live = !values.json && process.stderr.isTTY === true;
  const result = await mine(header, {
    engine,
    ...(workers === undefined ? {} : { workers }),
    ...(live ? { onProgress: showProgress } : {}),
  });
  if (live) process.stderr.write("\n");
  if (values.json) {
    const { nonce, hash, hashes, seconds, hashrate } = result;
    process.stdout.write(JSON.stringify({ nonce, hash, header: toHex(result.header), hashes, seconds, hashrate }) + "\n");
  } else {
    process.stdout.write(
      [
        `nonce     ${result.nonce}`,
        `hash      ${result.hash}`,
        `header    ${toHex(result.header)}`,
        `hashes    ${result.hashes} in ${result.seconds.toFixed(2)} s (${formatHashrate(result.hashrate)}, ${result.workers} worker(s), ${result.engine})`,
        ...(result.rolls ? [`rolls     ${result.rolls} (time field rolled after exhausting the nonce space)`] : []),
      ].join("\n") + "\n",
    );
  }
  return 0;
}

/** `chaindb verify --header <hex>`: exit 0 if the proof of work holds, 1 if not. */
export async function verifyCommand(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({ args, options: { header: { type: "string" }, json: { type: "boolean", default: false } } });
  if (values.header === undefined) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "verify needs --header <hex of 80 bytes>");
  const check = checkProofOfWork(fromHex(values.header, "--header"));
  // Targets are shown like hashes: most significant byte first.
  const target = check.target ? toHex(reverseBytes(check.target)) : null;
  if (values.json) process.stdout.write(JSON.stringify({ ok: check.ok, reason: check.reason, hash: check.hash, target }) + "\n");
  else {
    process.stdout.write(`hash      ${check.hash}\n`);
    process.stdout.write(`target    ${target ?? "(invalid bits: negative or overflowing)"}\n`);
    process.stdout.write(`pow       ${check.ok ? "holds" : `does not hold (${check.reason})`}\n`);
  }
  return check.ok ? 0 : 1;
}

function startHeader(headerHex: string | undefined, bitsHex: string | undefined): Uint8Array {
  const bits = bitsHex === undefined ? undefined : parseBits(bitsHex);
  if (headerHex !== undefined) {
    const header = fromHex(headerHex, "--header");
    const decoded = decodeHeader(header);
    return bits === undefined ? header : encodeHeader({ ...decoded, bits });
  }
  if (bits === undefined) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "mine needs --bits <hex> (or --header <hex>)");
  // A fresh header: random parents and merkle root, the current time, nonce 0.
  const fresh = encodeHeader({
    version: 0x20000000,
    prevHash: crypto.getRandomValues(new Uint8Array(32)),
    merkleRoot: crypto.getRandomValues(new Uint8Array(32)),
    time: Math.floor(Date.now() / 1000),
    bits,
    nonce: 0,
  });
  return setNonce(fresh, 0);
}

function parseBits(text: string): number {
  const hex = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex)) throw new ChainDbError(ErrorCode.BAD_HEX, `--bits expected up to 8 hex digits, got "${text}"`);
  return parseInt(hex, 16) >>> 0;
}

function parseCount(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `${name} expected a non-negative integer, got "${text}"`);
  return Number(text);
}

function showProgress(p: MineProgress): void {
  process.stderr.write(`\r  mining: ${formatHashrate(p.hashrate)}, ${(p.hashes / 1e6).toFixed(1)} M hashes, ${(p.elapsedMs / 1000).toFixed(1)} s   `);
}

function formatHashrate(hashrate: number): string {
  return hashrate >= 1e6 ? `${(hashrate / 1e6).toFixed(2)} MH/s` : `${(hashrate / 1e3).toFixed(1)} kH/s`;
}
