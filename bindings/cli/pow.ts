/**
 * `chaindb mine` and `chaindb verify`.
 * @module
 */
import { decodeHeader, encodeHeader, setNonce } from "../chain/index.ts";
import { bitsToTargetBigInt, checkProofOfWork, mine, type MineProgress } from "../pow/index.ts";
import { ChainDbError, ErrorCode, fromHex, reverseBytes, toHex } from "../util/index.ts";
import { choiceOption, intOption, parseCommand, type CommandSpec, type ExitCode } from "./args.ts";

/** Most worker threads `--workers` accepts (the miner's own limit). */
const WORKERS_MAX = 256;

const MINE: CommandSpec = {
  name: "mine",
  summary:
    "Mines a block header: searches nonces (rolling the time field when the 2^32 nonces run out) until sha256d(header) meets the target of --bits.",
  options: [
    {
      name: "bits",
      value: "<hex>",
      help: "compact target, e.g. 1f00ffff; required unless --header is given (then it overrides the header's bits)",
    },
    {
      name: "header",
      value: "<hex>",
      help: "80-byte header to start from; its nonce is the first one tried (default: a fresh header, nonce 0)",
    },
    {
      name: "workers",
      value: "N",
      defaultText: "one per CPU",
      help: `worker threads, 0..${WORKERS_MAX}; 0 mines on the main thread`,
    },
    { name: "engine", value: "wasm|ts", default: "wasm", help: "hashing engine" },
    { name: "json", help: "print one JSON object instead of text" },
  ],
  examples: ["chaindb mine --bits 1f00ffff --workers 2"],
};

const VERIFY: CommandSpec = {
  name: "verify",
  summary:
    "Prints a header's block hash and target and checks its proof of work (exit 0 if it holds, 1 if not).",
  options: [
    { name: "header", value: "<hex>", help: "the 80-byte header in hex (required)" },
    { name: "json", help: "print one JSON object instead of text" },
  ],
  examples: [
    "chaindb verify --header 0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
  ],
};

/** `chaindb mine --bits <hex> [--header <hex>] [--workers N] [--engine wasm|ts] [--json]`. */
export async function mineCommand(args: string[]): Promise<ExitCode> {
  const parsed = parseCommand(MINE, args);
  if (parsed === null) return 0;
  const { values } = parsed;
  const engine = choiceOption(values.engine, "engine", ["wasm", "ts"] as const);
  const workers =
    values.workers === undefined ? undefined : intOption(values.workers, "workers", 0, WORKERS_MAX);
  const header = startHeader(values.header as string | undefined, values.bits as string | undefined);
  const live = !values.json && process.stderr.isTTY === true;
  const result = await mine(header, {
    engine,
    ...(workers === undefined ? {} : { workers }),
    ...(live ? { onProgress: showProgress } : {}),
  });
  if (live) process.stderr.write("\n");
  if (values.json) {
    const { nonce, hash, hashes, seconds, hashrate } = result;
    process.stdout.write(
      JSON.stringify({ nonce, hash, header: toHex(result.header), hashes, seconds, hashrate }) + "\n",
    );
  } else {
    process.stdout.write(
      [
        `nonce     ${result.nonce}`,
        `hash      ${result.hash}`,
        `header    ${toHex(result.header)}`,
        `hashes    ${result.hashes} in ${result.seconds.toFixed(2)} s (${formatHashrate(result.hashrate)}, ${result.workers} worker(s), ${result.engine})`,
        ...(result.rolls
          ? [`rolls     ${result.rolls} (time field rolled after exhausting the nonce space)`]
          : []),
      ].join("\n") + "\n",
    );
  }
  return 0;
}

/** `chaindb verify --header <hex>`: exit 0 if the proof of work holds, 1 if not. */
export async function verifyCommand(args: string[]): Promise<ExitCode> {
  const parsed = parseCommand(VERIFY, args);
  if (parsed === null) return 0;
  const { values } = parsed;
  if (typeof values.header !== "string")
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      "verify needs --header <hex of 80 bytes> (see chaindb verify --help)",
    );
  const check = checkProofOfWork(fromHex(values.header, "--header"));
  // Targets are shown like hashes: most significant byte first.
  const target = check.target ? toHex(reverseBytes(check.target)) : null;
  if (values.json)
    process.stdout.write(
      JSON.stringify({ ok: check.ok, reason: check.reason, hash: check.hash, target }) + "\n",
    );
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
    checkMineable(bits ?? decoded.bits);
    return bits === undefined ? header : encodeHeader({ ...decoded, bits });
  }
  if (bits === undefined)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      "mine needs --bits <hex> (or --header <hex>) (see chaindb mine --help)",
    );
  checkMineable(bits);
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
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex))
    throw new ChainDbError(ErrorCode.BAD_HEX, `--bits expected up to 8 hex digits, got "${text}"`);
  return parseInt(hex, 16) >>> 0;
}

/**
 * Refuses bits no hash can meet before mining starts: negative or overflowing bits (BAD_BITS from
 * the decoder), and a zero target, which `verify` rejects too and on which the search never ends.
 */
function checkMineable(bits: number): void {
  if (bitsToTargetBigInt(bits) === 0n) {
    throw new ChainDbError(
      ErrorCode.BAD_BITS,
      `--bits 0x${bits.toString(16).padStart(8, "0")} decodes to a zero target, which no hash meets`,
    );
  }
}

function showProgress(p: MineProgress): void {
  process.stderr.write(
    `\r  mining: ${formatHashrate(p.hashrate)}, ${(p.hashes / 1e6).toFixed(1)} M hashes, ${(p.elapsedMs / 1000).toFixed(1)} s   `,
  );
}

function formatHashrate(hashrate: number): string {
  return hashrate >= 1e6 ? `${(hashrate / 1e6).toFixed(2)} MH/s` : `${(hashrate / 1e3).toFixed(1)} kH/s`;
}
