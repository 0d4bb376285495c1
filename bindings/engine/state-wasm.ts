/**
 * The `wasm` ledger state: a binding over assembly/state.ts in a core instance of its own.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import type { CoreExports } from "./core-abi.ts";
import { CoreMemory, instantiateCore } from "./core.ts";
import {
  ACCOUNT_RECORD_SIZE as REC,
  CORE_ENTRY_HEADER,
  PACKED_TRANSFER_SIZE as TX,
  RECORD_BALANCE,
  RECORD_NONCE,
} from "./records.ts";
import type { AccountState, LedgerState, LoadProgress, ProofMaterial } from "./state-types.ts";

/** Records per `stateLoad` call: progress is reported between chunks (12 MB of records each). */
const LOAD_CHUNK = 1 << 18;
/** Accounts linked per call of a bulk tree build: progress is reported between calls. */
const LINK_CHUNK = 1 << 18;
// Pointers from the core are u32, but a wasm i32 result reaches JS signed: every address is read
// with `>>> 0`, or a state past 2 GiB (about 6M accounts) would index at a negative offset.

function oom(what: string): ChainDbError {
  return new ChainDbError(ErrorCode.OUT_OF_MEMORY, `wasm state: out of memory during ${what}`);
}

/** Creates an empty WASM ledger state. */
export async function createWasmState(): Promise<LedgerState> {
  return createWasmStateForTest({});
}

/** Test hooks of the WASM state core (assembly/commit.ts, assembly/state.ts). */
export interface WasmStateTestHooks {
  /** Sort keys of the bulk tree build keep only this many path bits (1..64), so ties are common. */
  prefixBits?: number;
  /** Untouched heap to skip first, so every later allocation lies past it (e.g. past 2 GiB). */
  skipHeapBytes?: number;
}

/** An empty WASM ledger state with test hooks applied (tests only). */
export async function createWasmStateForTest(hooks: WasmStateTestHooks): Promise<LedgerState> {
  const core = await instantiateCore();
  if (hooks.prefixBits !== undefined) core.commitTestPrefixBits(hooks.prefixBits);
  if (hooks.skipHeapBytes !== undefined && core.stateTestSkipHeap(hooks.skipHeapBytes) !== 0)
    throw oom("skip");
  return new WasmState(core, new CoreMemory(core.memory));
}

/** The binding over one core instance; `onClose` releases what runs it (the threaded build's workers). */
export class WasmState implements LedgerState {
  readonly engine = "wasm" as const;
  private readonly addrIo: number;
  private readonly proposerIo: number;

  constructor(
    private readonly x: CoreExports,
    private readonly mem: CoreMemory,
    private readonly onClose?: () => Promise<void>,
  ) {
    const seed = crypto.getRandomValues(new Uint32Array(2));
    if (x.stateInit(seed[0]!, seed[1]!) !== 0) throw oom("init");
    this.addrIo = x.stateAddrIo();
    this.proposerIo = x.stateProposerIo();
  }

  /** Threads that execute a block (0: the single-threaded build). */
  get threads(): number {
    return this.x.parThreads();
  }

  get hashCount(): number {
    return Number(this.x.commitHashCount());
  }

  get rootJobs(): number {
    return this.x.parRootJobs();
  }

  get serialJobs(): number {
    return this.x.parSerialJobs();
  }

  async close(): Promise<void> {
    await this.onClose?.();
  }

  get accountCount(): number {
    return this.x.stateCount();
  }

  get nodeCount(): number {
    return this.x.commitNodeCount();
  }

  load(records: Uint8Array, onProgress?: LoadProgress): void {
    const total = Math.floor(records.length / REC);
    // The table sized once for all of them: no rehash while loading (a stateLoad outside a block).
    if (total > 0 && this.x.stateReserve(total) !== 0) throw oom("load");
    for (let done = 0; done < total;) {
      const count = Math.min(LOAD_CHUNK, total - done);
      const p = this.x.stateLoadBuffer(count) >>> 0;
      if (p === 0) throw oom("load");
      this.mem.u8.set(records.subarray(done * REC, (done + count) * REC), p);
      const rc = this.x.stateLoad(count);
      if (rc === -1) throw oom("load");
      assert(rc === 0, "load inside a block");
      done += count;
      if (done < total) onProgress?.(done, total);
    }
    onProgress?.(total, total);
  }

  begin(): void {
    assert(this.x.stateBegin() === 0, "begin: a block is already open");
  }

  apply(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array {
    assert(packed.length >= count * TX, "apply: packed buffer too short");
    const p = this.x.stateTxBuffer(count) >>> 0;
    if (p === 0) throw oom("apply");
    const u8 = this.mem.u8;
    u8.set(packed.subarray(0, count * TX), p);
    u8.set(proposer, this.proposerIo);
    const rc = this.x.stateApply(count);
    if (rc === -1) throw oom("apply");
    assert(rc >= 0, "apply outside a block");
    const s = this.x.stateStatusPtr() >>> 0;
    return this.mem.u8.slice(s, s + count);
  }

  commit(): void {
    assert(this.x.stateCommit() === 0, "commit: no block is open");
  }

  abort(): void {
    const rc = this.x.stateAbort();
    if (rc === -3) throw oom("abort");
    assert(rc === 0, "abort: no block is open");
  }

  changes(): Uint8Array {
    const n = this.x.stateChangedCount();
    const p = this.x.stateChanges() >>> 0;
    if (p === 0) throw oom("changes");
    return this.mem.u8.slice(p, p + n * REC);
  }

  exportAll(): Uint8Array {
    const n = this.x.stateCount();
    const p = this.x.stateExportAll() >>> 0;
    if (p === 0) throw oom("export");
    return this.mem.u8.slice(p, p + n * REC);
  }

  root(onProgress?: LoadProgress): Uint8Array {
    const p = (this.bulkRoot(onProgress) ?? this.x.stateRoot()) >>> 0;
    if (p === 0) throw oom("root");
    return this.mem.u8.slice(p, p + 32);
  }

  /** The bulk build onto an empty tree in steps, with progress; undefined when none is due. */
  private bulkRoot(onProgress?: LoadProgress): number | undefined {
    const n = this.x.commitBulkBegin();
    if (n === -2) return undefined;
    if (n === -1) throw oom("root");
    for (let done = 0; done < n;) {
      done = this.x.commitBulkLink(LINK_CHUNK);
      if (done < n) onProgress?.(done, n);
    }
    return this.x.commitBulkEnd();
  }

  account(address: Uint8Array): AccountState | undefined {
    this.mem.u8.set(address, this.addrIo);
    const e = this.x.stateGet() >>> 0;
    if (e === 0) return undefined;
    const u8 = this.mem.u8;
    // The entry's key and value, side by side, are the account record (address ‖ balance ‖ nonce).
    const dv = new DataView(u8.buffer, e + CORE_ENTRY_HEADER, REC);
    return { balance: dv.getBigUint64(RECORD_BALANCE, true), nonce: dv.getBigUint64(RECORD_NONCE, true) };
  }

  proofMaterial(address: Uint8Array): ProofMaterial {
    this.mem.u8.set(address, this.addrIo);
    const p = this.x.stateProve() >>> 0;
    if (p === 0) throw oom("prove");
    const u8 = this.mem.u8;
    const dv = new DataView(u8.buffer, p, 8);
    const depth = dv.getUint32(0, true);
    // assembly/commit.ts: depth u32 ‖ has-leaf u32 ‖ leaf record ‖ depth sibling hashes.
    const leaf = dv.getUint32(4, true) === 1 ? u8.slice(p + 8, p + 8 + REC) : undefined;
    const siblings = p + 8 + REC;
    return { depth, leaf, siblings: u8.slice(siblings, siblings + depth * 32) };
  }
}
