/**
 * The core's TypeScript ABI (bindings/engine/core-abi.ts) against the builds' real exports: every
 * typed function exists with its parameter count, every export of build/release.wasm and
 * build/debug.wasm is typed or explicitly ignored, and every import is one the loader provides.
 * Then the one loader (core.ts): a build that does not match is refused with WASM_UNAVAILABLE
 * naming the export, the module is compiled once and shared while each instance has its own
 * memory, CHAINDB_CORE_WASM reaches the hashing engine, the KV store and the ledger state alike,
 * and an abort in the core throws with the core's own message.
 */
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CORE_EXPORTS_IGNORED,
  CORE_FUNCTION_ARITY,
  checkCoreExports,
  coreAbiMismatches,
} from "../../bindings/engine/core-abi.ts";
import {
  compileCore,
  compileCoreAt,
  coreImports,
  createSharedCoreMemory,
  instantiateCore,
  instantiateThreadedCore,
  sharedCore,
} from "../../bindings/engine/core.ts";
import { ErrorCode } from "../../bindings/util/index.ts";

const BUILDS = ["release", "debug", "threads"] as const;
/** The loader's imports for a build: the threaded one also imports its shared memory. */
const importsFor = (build: string): WebAssembly.Imports => {
  const imports = coreImports(() => undefined);
  if (build === "threads") imports.env = { ...imports.env, memory: createSharedCoreMemory() };
  return imports;
};
const buildUrl = (name: string): URL => new URL(`../../build/${name}.wasm`, import.meta.url);

describe.each(BUILDS)("the ABI type against build/%s.wasm", (build) => {
  it("types every export with the right kind and arity, and no export is untyped", async () => {
    const module = await compileCoreAt(buildUrl(build));
    const declared = WebAssembly.Module.exports(module);
    const typed = new Map<string, string>([
      ["memory", "memory"],
      ...Object.keys(CORE_FUNCTION_ARITY).map((name): [string, string] => [name, "function"]),
    ]);
    const untyped = declared.filter((e) => !typed.has(e.name) && !CORE_EXPORTS_IGNORED.includes(e.name));
    expect(untyped.map((e) => e.name)).toEqual([]);
    for (const e of declared) {
      if (typed.has(e.name)) expect(`${e.name}: ${e.kind}`).toBe(`${e.name}: ${typed.get(e.name)}`);
    }
    const missing = [...typed.keys()].filter((name) => !declared.some((e) => e.name === name));
    expect(missing).toEqual([]);

    const instance = await WebAssembly.instantiate(module, importsFor(build));
    expect(coreAbiMismatches(instance.exports)).toEqual([]);
    for (const [name, arity] of Object.entries(CORE_FUNCTION_ARITY)) {
      expect(`${name}/${(instance.exports[name] as () => unknown).length}`).toBe(`${name}/${arity}`);
    }
  });

  it("imports nothing the loader does not provide", async () => {
    const module = await compileCoreAt(buildUrl(build));
    const provided = importsFor(build);
    for (const imp of WebAssembly.Module.imports(module)) {
      const value = provided[imp.module]?.[imp.name];
      const kind = value instanceof WebAssembly.Memory ? "memory" : typeof value;
      expect(`${imp.module}.${imp.name}: ${kind}`).toBe(`${imp.module}.${imp.name}: ${imp.kind}`);
    }
  });
});

describe("checking an instance against the ABI", () => {
  it("refuses a module without the core's exports, naming what is missing", async () => {
    const empty = await WebAssembly.instantiate(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    expect(() => checkCoreExports(empty.instance.exports, "empty.wasm")).toThrow(
      expect.objectContaining({
        code: ErrorCode.WASM_UNAVAILABLE,
        message: expect.stringMatching(
          /^empty\.wasm .*memory: not exported.*more\): run `npm run build:wasm`$/,
        ),
      }),
    );
  });

  it("refuses an export whose parameter count changed", async () => {
    const core = await instantiateCore();
    const changed = { ...core, memory: core.memory, kvCreate: (seed: number) => seed };
    expect(coreAbiMismatches(changed)).toEqual(["kvCreate: takes 1 parameters, expected 2"]);
    expect(() => checkCoreExports(changed, "old.wasm")).toThrow(/kvCreate: takes 1 parameters, expected 2/);
  });
});

describe("the one loader", () => {
  afterEach(() => {
    delete process.env.CHAINDB_CORE_WASM;
    vi.resetModules();
  });

  it("compiles once; each instance has its own memory; the hashing engine shares one", async () => {
    expect(compileCore()).toBe(compileCore());
    const [a, b] = await Promise.all([instantiateCore(), instantiateCore()]);
    expect(a.memory).not.toBe(b.memory);
    expect(a).not.toBe(b);
    expect(await sharedCore()).toBe(await sharedCore());
  });

  it("loads the build CHAINDB_CORE_WASM names for the engine, the KV store and the ledger state", async () => {
    process.env.CHAINDB_CORE_WASM = "build/no-such-core.wasm";
    vi.resetModules(); // a fresh module graph: no instance cached yet
    const engine = await import("../../bindings/engine/index.ts");
    const unavailable = expect.objectContaining({
      code: ErrorCode.WASM_UNAVAILABLE,
      message: expect.stringContaining("no-such-core.wasm"),
    });
    await expect(engine.createEngine("wasm")).rejects.toThrow(unavailable);
    await expect(engine.createKvStore("wasm")).rejects.toThrow(unavailable);
    await expect(engine.createLedgerState("wasm")).rejects.toThrow(unavailable);

    process.env.CHAINDB_CORE_WASM = "build/debug.wasm"; // the cache follows the variable
    const kv = await engine.createKvStore("wasm");
    kv.put(new Uint8Array([1]), new Uint8Array([2]));
    expect(kv.get(new Uint8Array([1]))).toEqual(new Uint8Array([2]));
    const { coreWasmUrl } = await import("../../bindings/engine/core.ts");
    expect(coreWasmUrl().pathname.endsWith("/build/debug.wasm")).toBe(true);
  });

  it("instantiates the threaded build over one shared memory; the single-threaded one refuses threads", async () => {
    const memory = createSharedCoreMemory();
    const [a, b] = [await instantiateThreadedCore(memory), await instantiateThreadedCore(memory)];
    expect(a.memory).toBe(memory);
    expect(b.memory).toBe(memory);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    // One memory: the input written through one instance's address is hashed by the other.
    new Uint8Array(memory.buffer).set([7, 8, 9], a.inputPtr());
    b.sha256Input(3);
    const want = createHash("sha256")
      .update(new Uint8Array([7, 8, 9]))
      .digest();
    expect(new Uint8Array(memory.buffer.slice(a.outputPtr(), a.outputPtr() + 32))).toEqual(
      new Uint8Array(want),
    );
    expect(a.parInit(0)).toBe(0);
    expect(a.parInit(17)).toBe(0);
    expect(a.parInit(2)).not.toBe(0);
    expect(a.parThreads()).toBe(2);
    const single = await instantiateCore();
    expect(single.parInit(2)).toBe(0);
    expect(single.parThreads()).toBe(0);
  });

  it("throws the core's abort message with its source position", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const put = (ptr: number, text: string) => {
      new DataView(memory.buffer).setUint32(ptr - 4, text.length * 2, true);
      new Uint16Array(memory.buffer, ptr, text.length).set([...text].map((c) => c.charCodeAt(0)));
    };
    put(64, "index out of range");
    put(256, "assembly/kv.ts");
    const abort = coreImports(() => memory).env!.abort as (
      m: number,
      f: number,
      l: number,
      c: number,
    ) => void;
    expect(() => abort(64, 256, 12, 5)).toThrow(
      "chaindb wasm abort: index out of range (assembly/kv.ts:12:5)",
    );
    expect(() => abort(0, 0, 1, 1)).toThrow("chaindb wasm abort:  (:1:1)");
  });
});
