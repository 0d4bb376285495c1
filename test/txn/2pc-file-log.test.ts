// The 2PC file log on the shared durable log: checksummed records (a flipped byte is STORE_CORRUPT,
// where the old JSON-lines log read back a different value), short writes completed, compaction
// bounding the file, no size limit at open, I/O errors surfaced; and a seeded crash suite on the
// fault-injecting file system: after any crash point, every forced (synced) write is there and the
// state is the last forced one plus a prefix of the writes being forced.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileTwoPcLog } from "../../bindings/txn/two-phase/index.ts";
import { FaultFs, LOG_HEADER_BYTES, nodeFilePort, type FilePort } from "../../bindings/store/index.ts";
import { replay, seedRange } from "../helpers/seeds.ts";

const dir = mkdtempSync(join(tmpdir(), "chaindb-2pc-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const v = (x: number) => new Uint8Array([x & 0xff, (x >> 8) & 0xff, 7]);

describe("FileTwoPcLog on the durable log", () => {
  it("a flipped byte in a forced record is STORE_CORRUPT, never a different value", () => {
    const path = join(dir, "flip.log");
    const log = FileTwoPcLog.open(path);
    log.put("2pc/a", v(0x0a));
    expect(log.sync()).toBeUndefined(); // synchronous without group commit
    log.put("2pc/b", v(0x0b));
    expect(log.sync()).toBeUndefined(); // synchronous without group commit
    log.close();
    const bytes = readFileSync(path);
    const valueByte = LOG_HEADER_BYTES + 16 + 3 + "2pc/a".length; // first byte of a's value
    expect(bytes[valueByte]).toBe(0x0a);
    bytes[valueByte] = 0x0b;
    writeFileSync(path, bytes);
    expect(() => FileTwoPcLog.open(path)).toThrow(expect.objectContaining({ code: "STORE_CORRUPT" }));
  });

  it("completes short writes (the return value of write counts)", () => {
    const path = join(dir, "short.log");
    const short: FilePort = {
      ...nodeFilePort,
      write: (fd, b, o, l, p) => nodeFilePort.write(fd, b, o, Math.min(l, 3), p),
    };
    const log = FileTwoPcLog.open(path, { port: short });
    for (let i = 0; i < 20; i++) log.put(`2pc/k${i}`, v(i));
    log.close();
    const again = FileTwoPcLog.open(path);
    expect(again.keys()).toHaveLength(20);
    expect(again.get("2pc/k19")).toEqual(v(19));
  });

  it("compacts: a log rewritten 5,000 times stays near the size of its live records", () => {
    const fs = new FaultFs({ seed: 9 }); // in memory: 5,000 real fsyncs take a minute here
    fs.mkdir("/d");
    const path = "/d/compact.log";
    const log = FileTwoPcLog.open(path, { port: fs, compactMinBytes: 8 * 1024 });
    for (let i = 0; i < 5_000; i++) {
      log.put(`2pc/tx${i % 10}`, v(i));
      if (i % 3 === 0) log.delete(`2pc/tx${(i + 5) % 10}`);
      expect(log.sync()).toBeUndefined(); // synchronous without group commit
    }
    log.close();
    expect(log.compactions).toBeGreaterThan(10);
    expect(fs.contents(path)!.length).toBeLessThan(8 * 1024 + 1024);
    const again = FileTwoPcLog.open(path, { port: fs });
    expect(again.get("2pc/tx9")).toEqual(v(4999));
    expect(again.syncs).toBe(0);
  });

  it("ENOSPC while forcing is a STORE_IO error, not a lost record the caller thinks is durable", () => {
    const fs = new FaultFs({ seed: 1 });
    fs.mkdir("/d");
    const log = FileTwoPcLog.open("/d/2pc.log", { port: fs });
    log.put("2pc/x", v(1));
    fs.inject({ op: "write", nth: 1, code: "ENOSPC" });
    expect(() => log.sync()).toThrow(expect.objectContaining({ code: "STORE_IO" }));
  });
});

type Op = { key: string; value: Uint8Array | null };

describe("2PC log crash suite (fault-injecting file system)", () => {
  const FILE = "test/txn/2pc-file-log.test.ts";
  it.each(seedRange(300, 5000).map((s) => [s]))(
    "seed %i: every forced write survives; the state is a forced one plus a prefix of the next",
    (seed) => {
      const fs = new FaultFs({ seed, crashAfterOps: 2 + ((seed * 13) % 160) });
      fs.mkdir("/n");
      let forced = new Map<string, string>();
      let inFlight: Op[] = [];
      let batch: Op[] = [];
      try {
        const log = FileTwoPcLog.open("/n/2pc.log", { port: fs, compactMinBytes: 2048 });
        for (let i = 0; i < 400; i++) {
          const key = `2pc/t${(seed * 7 + i * 3) % 11}`;
          const op: Op = (seed + i) % 4 === 0 ? { key, value: null } : { key, value: v(seed * 1000 + i) };
          if (op.value === null) log.delete(op.key);
          else log.put(op.key, op.value);
          batch.push(op);
          if ((seed + i) % 3 === 0) {
            inFlight = batch;
            expect(log.sync()).toBeUndefined(); // synchronous without group commit
            forced = applyOps(forced, batch);
            inFlight = batch = [];
          }
        }
      } catch (e) {
        expect((e as { code?: string }).code, `seed ${seed}: ${replay(FILE, seed)}`).toBe("STORE_IO");
      }
      fs.restart();
      let got: Map<string, string>;
      try {
        const again = FileTwoPcLog.open("/n/2pc.log", { port: fs });
        got = new Map(again.keys().map((k) => [k, Buffer.from(again.get(k)!).toString("hex")]));
      } catch (e) {
        return expect.fail(`seed ${seed}: reopen failed: ${(e as Error).message}; ${replay(FILE, seed)}`);
      }
      const candidates = Array.from({ length: inFlight.length + 1 }, (_, j) =>
        applyOps(forced, inFlight.slice(0, j)),
      );
      const same = (a: Map<string, string>, b: Map<string, string>) =>
        JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
      expect(
        candidates.some((c) => same(c, got)),
        `seed ${seed}: state after restart is not the forced state plus a prefix of the write being forced; ${replay(FILE, seed)}`,
      ).toBe(true);
    },
  );
});

function applyOps(state: Map<string, string>, ops: Op[]): Map<string, string> {
  const out = new Map(state);
  for (const op of ops) {
    if (op.value === null) out.delete(op.key);
    else out.set(op.key, Buffer.from(op.value).toString("hex"));
  }
  return out;
}
