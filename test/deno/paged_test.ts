// Deno smoke test for the paged ledger (bindings/store/paged-state.ts) on both engines: pages in a
// 1 KB cache on real files, the wasm engine's in the core's memory with its SIMD hashing; a block,
// a reopen, and the same root as the in-memory ledger.
import { Ledger } from "../../bindings/chain/index.ts";
import { packTransfer } from "../../bindings/engine/index.ts";
import { toHex } from "../../bindings/util/index.ts";

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const genesis = Array.from({ length: 60 }, (_, i) => ({
  address: new Uint8Array(32).fill(i + 1),
  balance: 100n,
}));

Deno.test(
  "paged ledger: ts and wasm engines give the in-memory root, before and after a reopen",
  async () => {
    const dir = Deno.makeTempDirSync();
    try {
      const mem = await Ledger.open({ chainId: 1, genesis });
      const packed = new Uint8Array(88);
      packTransfer(packed, 0, genesis[0]!.address, genesis[1]!.address, 7n, 1n, 0n);
      await mem.applyPacked(packed, 1, { proposer: genesis[2]!.address });
      for (const engine of ["ts", "wasm"] as const) {
        const opts = { chainId: 1, genesis, dir: `${dir}/${engine}`, cacheBytes: 1024, engine };
        const l = await Ledger.open(opts);
        check(l.engine === engine, `engine ${l.engine}, expected ${engine}`);
        await l.applyPacked(packed, 1, { proposer: genesis[2]!.address });
        check(toHex(l.root()) === toHex(mem.root()), `${engine}: root differs from the in-memory ledger`);
        await l.close();
        const again = await Ledger.open(opts);
        check(again.height === 1, `${engine}: reopened at height ${again.height}`);
        check(toHex(again.root()) === toHex(mem.root()), `${engine}: reopened root differs`);
        await again.close();
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
