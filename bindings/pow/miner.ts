/**
 * The miner: searches the nonce space of an 80-byte Bitcoin header for a hash ≤ target, on the
 * calling thread (`workers: 0`) or on a pool of workers, with abort, progress, and time rolling
 * once the 2^32 nonce space is exhausted (as real miners roll ntime or an extra nonce).
 * @module
 */
import { createEngine, NONCE_SPACE, type EngineName } from "../engine/index.ts";
import { cpuCount, yieldToEventLoop } from "../runtime/index.ts";
import { blockHash, decodeHeader, getNonce, setNonce, setTime } from "../chain/index.ts";
import { ChainDbError, ErrorCode, abytes, aint } from "../util/index.ts";
import { bitsToTarget } from "./target.ts";
import { MAX_WORKERS, MinerPool } from "./pool.ts";

/** Progress of a running mine, reported about every `progressIntervalMs`. */
export interface MineProgress {
  /** Hashes tried so far, over all workers and rolls. */
  hashes: number;
  /** Hashes per second since the start. */
  hashrate: number;
  /** Milliseconds since the start. */
  elapsedMs: number;
  /** How many times the header was rolled after exhausting the nonce space. */
  rolls: number;
}

/** Options of {@link mine}. */
export interface MineOptions {
  /** 32-byte little-endian target; default: the one encoded in the header's bits. */
  target?: Uint8Array;
  /** Worker threads; 0 mines on the calling thread. Default: one per CPU. */
  workers?: number;
  /** Engine used for hashing. Default "wasm". */
  engine?: EngineName;
  /** First nonce to try; default: the header's nonce field. */
  startNonce?: number;
  /** Cancels the search; mine() then rejects with code ABORTED. */
  signal?: AbortSignal;
  /** Called about every `progressIntervalMs` while mining. */
  onProgress?: (progress: MineProgress) => void;
  /** Default 250 ms. */
  progressIntervalMs?: number;
  /**
   * Makes the next header once the nonce space of the current one is exhausted (e.g. a new
   * extra nonce in the coinbase, hence a new merkle root). Default: time + 1 second.
   */
  nextHeader?: (header: Uint8Array, roll: number) => Uint8Array;
  /** Give up with NONCE_SPACE_EXHAUSTED after this many rolls. Default: unbounded. */
  maxRolls?: number;
}

/** A found proof of work. */
export interface MineResult {
  /** The solved header: the input (or its rolled successor) with the winning nonce. */
  header: Uint8Array;
  nonce: number;
  /** Block hash in display order (byte-reversed sha256d). */
  hash: string;
  hashes: number;
  seconds: number;
  hashrate: number;
  rolls: number;
  workers: number;
  engine: EngineName;
}

// Nonces claimed per step: 10–15 ms of work per engine here (wasm about 5 MH/s, ts about 2), the
// bound on how long a worker goes on hashing after another found a solution or abort was asked.
// Claiming a chunk is one Atomics.add, so smaller chunks cost nothing measurable.
const CHUNK: Record<EngineName, number> = { wasm: 1 << 16, ts: 1 << 14 };

/** Mines `header` until its sha256d is ≤ the target. */
export async function mine(header: Uint8Array, options: MineOptions = {}): Promise<MineResult> {
  abytes(header, 80, "header");
  const engineName = options.engine ?? "wasm";
  if (engineName !== "wasm" && engineName !== "ts") {
    throw new ChainDbError(
      ErrorCode.BAD_ENGINE,
      `unknown engine ${JSON.stringify(engineName)}: expected "wasm" or "ts"`,
    );
  }
  const workers = aint(options.workers ?? cpuCount(), 0, MAX_WORKERS, "workers");
  const target = options.target ? abytes(options.target, 32, "target") : targetFromHeader(header);
  // No hash meets a zero target: the search would roll the header forever.
  if (target.every((b) => b === 0))
    throw new ChainDbError(ErrorCode.BAD_BITS, "the target is zero: no hash can meet it");
  const startNonce = options.startNonce ?? getNonce(header);
  aint(startNonce, 0, NONCE_SPACE - 1, "startNonce");
  if (options.signal?.aborted)
    throw new ChainDbError(ErrorCode.ABORTED, "mining aborted before it started", {
      cause: options.signal.reason,
    });
  const searcher = workers === 0 ? await serialSearcher(engineName) : await poolSearcher(workers, engineName);
  // The clock starts once the workers are ready: the hashrate measures hashing, not start-up.
  const run = new MineRun(options);
  try {
    return await run.loop(header, target, startNonce, searcher, { workers, engine: engineName });
  } finally {
    await searcher.close();
  }
}

interface Searcher {
  search(
    header: Uint8Array,
    target: Uint8Array,
    start: number,
    end: number,
  ): Promise<{ nonce: number | null }>;
  hashes(): number;
  stop(): void;
  close(): Promise<void>;
}

class MineRun {
  readonly startedAt = performance.now();
  rolls = 0;
  aborted = false;
  private searcher: Searcher | undefined;

  constructor(readonly options: MineOptions) {}

  async loop(
    header: Uint8Array,
    target: Uint8Array,
    start: number,
    searcher: Searcher,
    meta: { workers: number; engine: EngineName },
  ): Promise<MineResult> {
    this.searcher = searcher;
    const onAbort = () => ((this.aborted = true), searcher.stop());
    this.options.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = this.options.onProgress
      ? setInterval(() => this.report(), this.options.progressIntervalMs ?? 250)
      : undefined;
    try {
      // Copies (new Uint8Array) throughout: a Buffer's slice would alias, and the nonce and time
      // written into it would land in the caller's header.
      let current: Uint8Array = new Uint8Array(header);
      for (;;) {
        const { nonce } = await searcher.search(current, target, start, NONCE_SPACE);
        if (this.aborted)
          throw new ChainDbError(ErrorCode.ABORTED, "mining aborted", { cause: this.options.signal?.reason });
        if (nonce !== null) return this.result(current, nonce, meta);
        current = this.roll(current);
        start = 0;
      }
    } finally {
      if (timer) clearInterval(timer);
      this.options.signal?.removeEventListener("abort", onAbort);
    }
  }

  private roll(header: Uint8Array): Uint8Array {
    const max = this.options.maxRolls ?? Infinity;
    if (this.rolls >= max) {
      throw new ChainDbError(
        ErrorCode.NONCE_SPACE_EXHAUSTED,
        `nonce space exhausted after ${this.rolls} roll(s) of the header`,
      );
    }
    this.rolls++;
    const next = this.options.nextHeader
      ? this.options.nextHeader(new Uint8Array(header), this.rolls)
      : rollTime(header);
    return new Uint8Array(abytes(next, 80, "nextHeader()"));
  }

  private progress(): MineProgress {
    const elapsedMs = performance.now() - this.startedAt;
    const hashes = this.searcher?.hashes() ?? 0;
    return {
      hashes,
      elapsedMs,
      hashrate: elapsedMs > 0 ? (hashes * 1000) / elapsedMs : 0,
      rolls: this.rolls,
    };
  }

  report(): void {
    this.options.onProgress?.(this.progress());
  }

  private result(
    header: Uint8Array,
    nonce: number,
    meta: { workers: number; engine: EngineName },
  ): MineResult {
    const solved = setNonce(new Uint8Array(header), nonce);
    const p = this.progress();
    this.report();
    return {
      header: solved,
      nonce,
      hash: blockHash(solved),
      hashes: p.hashes,
      seconds: p.elapsedMs / 1000,
      hashrate: p.hashrate,
      rolls: this.rolls,
      ...meta,
    };
  }
}

async function serialSearcher(name: EngineName): Promise<Searcher> {
  const engine = await createEngine(name);
  let hashes = 0;
  let stopped = false;
  return {
    async search(header, target, start, end) {
      stopped = false;
      for (let s = start; s < end && !stopped; s += CHUNK[name]) {
        const r = engine.searchNonce(header, target, s, Math.min(CHUNK[name], end - s));
        hashes += r.hashes;
        if (r.nonce !== null) return { nonce: r.nonce };
        // Yield to the event loop between chunks so abort and progress timers can run.
        await yieldToEventLoop();
      }
      return { nonce: null };
    },
    hashes: () => hashes,
    stop: () => void (stopped = true),
    close: async () => {},
  };
}

async function poolSearcher(workers: number, name: EngineName): Promise<Searcher> {
  const pool = await MinerPool.start(workers, name);
  return {
    search: (header, target, start, end) => pool.search(header, target, start, end, CHUNK[name]),
    hashes: () => pool.totalHashes(),
    stop: () => pool.stop(),
    close: () => pool.close(),
  };
}

function rollTime(header: Uint8Array): Uint8Array {
  return setTime(new Uint8Array(header), (decodeHeader(header).time + 1) >>> 0);
}

function targetFromHeader(header: Uint8Array): Uint8Array {
  return bitsToTarget(decodeHeader(header).bits);
}
