// The shared durable append log (bindings/store/append-log.ts) and the fault-injecting file system
// it is tested on: torn tail, zero tail, corrupt middle, fsync order (what was fsynced survives a
// crash, what was not may vanish), ENOSPC and EIO surfaced as STORE_IO, compaction, streaming reads.
import { mkdtempSync, rmSync, statSync, writeFileSync, appendFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  AppendLog,
  FaultFs,
  LOG_HEADER_BYTES,
  crc32c,
  encodeFrame,
  nodeFilePort,
  type FilePort,
} from "../../bindings/store/index.ts";

const dir = mkdtempSync(join(tmpdir(), "chaindb-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rec = (i: number, n = 20) => new Uint8Array(n).fill(i & 0xff).map((x, j) => x ^ j);
const dec = (b: Uint8Array) => Buffer.from(b).toString("hex");

function openCollect(file: string, port?: FilePort) {
  const got: Uint8Array[] = [];
  const log = AppendLog.open(file, "test", (p) => got.push(p), { port });
  return { log, got };
}

describe("append log on real files", () => {
  it("CRC-32C matches the RFC 3720 B.4 vectors, whole and continued", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    const bytes = Uint8Array.from({ length: 1001 }, (_, i) => (i * 31) & 0xff);
    for (const cut of [0, 1, 7, 8, 9, 500, 1001])
      expect(crc32c(bytes.subarray(cut), crc32c(bytes.subarray(0, cut)))).toBe(crc32c(bytes));
  });

  it("round-trips records and reopens with the same content", () => {
    const file = join(dir, "a.log");
    const { log } = openCollect(file);
    for (let i = 0; i < 50; i++) log.append(rec(i, i));
    log.sync();
    log.close();
    const { log: again, got } = openCollect(file);
    expect(got.map(dec)).toEqual(Array.from({ length: 50 }, (_, i) => dec(rec(i, i))));
    expect(again.recovery).toEqual({ records: 50, validBytes: statSync(file).size, tailBytes: 0 });
    again.close();
  });

  it("cuts a torn tail at every cut point of the last frame, and a zero tail of any length", () => {
    const file = join(dir, "torn.log");
    const { log } = openCollect(file);
    for (let i = 0; i < 3; i++) (log.append(rec(i)), log.sync());
    log.close();
    const good = readFileSync(file);
    const extra = encodeFrame(rec(9), good.length);
    for (let cut = 1; cut < extra.length; cut++) {
      writeFileSync(file, Buffer.concat([good, extra.subarray(0, cut)]));
      const { log: l, got } = openCollect(file);
      expect(got).toHaveLength(3);
      expect(l.recovery.tailBytes).toBe(cut);
      l.close();
      expect(statSync(file).size).toBe(good.length);
    }
    for (const zeros of [1, 15, 16, 17, 4096]) {
      writeFileSync(file, Buffer.concat([good, new Uint8Array(zeros)]));
      const { log: l, got } = openCollect(file);
      expect(got).toHaveLength(3);
      expect(l.recovery.tailBytes).toBe(zeros);
      l.close();
    }
  });

  it("a damaged middle frame followed by frames written after it was fsynced is STORE_CORRUPT, and nothing is cut", () => {
    const file = join(dir, "mid.log");
    const { log } = openCollect(file);
    for (let i = 0; i < 5; i++) (log.append(rec(i)), log.sync());
    log.close();
    const good = readFileSync(file);
    const frame = 16 + 20;
    for (const at of [0, 3, 5, 9, 14, 17, 30]) {
      const bad = Buffer.from(good);
      bad[LOG_HEADER_BYTES + 2 * frame + at]! ^= 0x10;
      writeFileSync(file, bad);
      expect(() => openCollect(file), `byte ${at}`).toThrow(
        expect.objectContaining({
          code: "STORE_CORRUPT",
          message: expect.stringMatching(new RegExp(`byte ${LOG_HEADER_BYTES + 2 * frame}`)),
        }),
      );
      expect(statSync(file).size).toBe(good.length);
    }
  });

  it("a foreign file, another kind of log, or a short header is refused, never reset", () => {
    const file = join(dir, "foreign.log");
    writeFileSync(file, "hello, not a log at all");
    expect(() => openCollect(file)).toThrow(expect.objectContaining({ code: "NOT_CHAINDB" }));
    const other = join(dir, "other.log");
    AppendLog.open(other, "othr", () => {}).close();
    expect(() => openCollect(other)).toThrow(
      expect.objectContaining({ code: "NOT_CHAINDB", message: expect.stringMatching(/othr/) }),
    );
    writeFileSync(file, new Uint8Array(10));
    expect(() => openCollect(file)).toThrow(expect.objectContaining({ code: "STORE_CORRUPT" }));
  });

  it("compaction replaces the file with the live records; appends continue after it", () => {
    const file = join(dir, "compact.log");
    const { log } = openCollect(file);
    for (let i = 0; i < 100; i++) log.append(rec(i, 100));
    log.sync();
    const before = log.size;
    log.rewrite([rec(7), rec(8)]);
    log.append(rec(9));
    log.close();
    expect(statSync(file).size).toBeLessThan(before / 10);
    const { got } = openCollect(file);
    expect(got.map(dec)).toEqual([rec(7), rec(8), rec(9)].map(dec));
  });

  it("reads stream through a bounded buffer: records far larger in total than one read chunk", () => {
    const file = join(dir, "big.log");
    const { log } = openCollect(file);
    for (let i = 0; i < 40; i++) log.append(rec(i, 300_000)); // 12 MB, 12 read chunks
    log.close();
    let n = 0;
    const reads: number[] = [];
    const counting: FilePort = {
      ...nodeFilePort,
      read: (fd, b, o, l, p) => (reads.push(l), nodeFilePort.read(fd, b, o, l, p)),
    };
    AppendLog.open(file, "test", (p) => (expect(p[1]).toBe(rec(n, 2)[1]), n++), { port: counting }).close();
    expect(n).toBe(40);
    expect(Math.max(...reads)).toBeLessThanOrEqual(1 << 20);
  });

  it("a short write is completed, not ignored", () => {
    const file = join(dir, "short.log");
    const short: FilePort = {
      ...nodeFilePort,
      write: (fd, b, o, l, p) => nodeFilePort.write(fd, b, o, Math.min(l, 5), p),
    };
    const log = AppendLog.open(file, "test", () => {}, { port: short });
    log.append(rec(1, 77));
    log.close();
    const { got } = openCollect(file);
    expect(got.map(dec)).toEqual([dec(rec(1, 77))]);
  });

  it("appendFileSync of a whole valid old frame with a stale durable claim is still read", () => {
    const file = join(dir, "claim.log");
    const { log } = openCollect(file);
    log.append(rec(1));
    log.close();
    appendFileSync(file, encodeFrame(rec(2), LOG_HEADER_BYTES));
    const { got } = openCollect(file);
    expect(got).toHaveLength(2);
  });
});

describe("append log on the fault-injecting file system", () => {
  it("fsync order: fsynced records survive every crash; unsynced ones may vanish but never corrupt (300 seeds)", () => {
    const damage = { lost: 0, torn: 0, zeroed: 0 };
    for (let seed = 1; seed <= 300; seed++) {
      const fs = new FaultFs({ seed });
      fs.mkdir("/d");
      const durable: string[] = [];
      let written: string[] = [];
      const { log } = openCollect("/d/x.log", fs);
      fs.crashAfterOps(5 + (seed % 40));
      const l: AppendLog = log;
      try {
        for (let i = 0; ; i++) {
          l.append(rec(seed + i, 10 + ((seed * 7 + i) % 50)));
          written.push(dec(rec(seed + i, 10 + ((seed * 7 + i) % 50))));
          if ((seed + i) % 3 === 0) {
            l.sync();
            durable.push(...written);
            written = [];
          }
        }
      } catch (e) {
        expect((e as { code?: string }).code, `seed ${seed}`).toBe("STORE_IO");
      }
      fs.restart();
      for (const k of ["lost", "torn", "zeroed"] as const) damage[k] += fs.damage[k];
      let got: Uint8Array[] = [];
      try {
        ({ got } = openCollect("/d/x.log", fs));
      } catch (e) {
        expect.fail(
          `seed ${seed}: reopen failed (${(e as Error).message}); replay: the loop body with seed ${seed}`,
        );
      }
      const read = got.map(dec);
      expect(read.slice(0, durable.length), `seed ${seed}`).toEqual(durable);
      expect(
        durable.concat(written).slice(0, read.length),
        `seed ${seed}: only written records, in order`,
      ).toEqual(read);
    }
    for (const k of ["lost", "torn", "zeroed"] as const) expect(damage[k], k).toBeGreaterThan(10); // the crashes did damage
  });

  it("a log that was never fsynced into its directory is gone after a crash; one that was is there", () => {
    const fs = new FaultFs({ seed: 1 });
    fs.mkdir("/d");
    fs.setFile("/d/raw", new Uint8Array([1]));
    const fd = fs.open("/d/unsynced", { create: true });
    fs.write(fd, new Uint8Array([1, 2]), 0, 2, 0);
    fs.fsync(fd); // data durable, but the directory entry is not
    fs.mkdir("/e");
    const { log } = openCollect("/e/x.log", fs); // creation fsyncs the log's directory (only)
    log.append(rec(1));
    log.sync();
    fs.restart();
    expect(fs.exists("/d/unsynced")).toBe(false);
    expect(fs.exists("/d/raw")).toBe(true);
    expect(openCollect("/e/x.log", fs).got).toHaveLength(1);
    expect(fs.damage.entriesLost).toBe(1);
  });

  it("a flipped bit in fsynced data is STORE_CORRUPT after restart", () => {
    const fs = new FaultFs({ seed: 2 });
    fs.mkdir("/d");
    const { log } = openCollect("/d/x.log", fs);
    for (let i = 0; i < 4; i++) (log.append(rec(i)), log.sync());
    fs.flipBit("/d/x.log", LOG_HEADER_BYTES + 40, 3);
    fs.restart();
    expect(() => openCollect("/d/x.log", fs)).toThrow(expect.objectContaining({ code: "STORE_CORRUPT" }));
  });

  it("ENOSPC on a write and EIO on an fsync are STORE_IO errors that stop the log; reopening recovers the durable records", () => {
    for (const [op, code] of [
      ["write", "ENOSPC"],
      ["fsync", "EIO"],
    ] as const) {
      const fs = new FaultFs({ seed: 3 });
      fs.mkdir("/d");
      const { log } = openCollect("/d/x.log", fs);
      log.append(rec(1));
      log.sync();
      fs.inject({ op, nth: 1, code });
      const fail = () => (log.append(rec(2)), log.sync());
      expect(fail).toThrow(
        expect.objectContaining({ code: "STORE_IO", message: expect.stringContaining(code) }),
      );
      expect(() => log.append(rec(3))).toThrow(
        expect.objectContaining({ code: "STORE_IO", message: expect.stringMatching(/stopped/) }),
      );
      log.close();
      fs.restart();
      const { got } = openCollect("/d/x.log", fs);
      expect(got[0]).toEqual(rec(1));
    }
  });

  it("a failed directory fsync at creation or compaction is surfaced, not swallowed", () => {
    const fs = new FaultFs({ seed: 4 });
    fs.mkdir("/d");
    fs.inject({ op: "fsyncDir", nth: 1, code: "EIO" });
    expect(() => openCollect("/d/x.log", fs)).toThrow(expect.objectContaining({ code: "STORE_IO" }));
    const { log } = openCollect("/d/y.log", fs);
    fs.inject({ op: "fsyncDir", nth: 1, code: "EIO" });
    expect(() => log.rewrite([rec(1)])).toThrow(
      expect.objectContaining({ code: "STORE_IO", message: expect.stringMatching(/directory/) }),
    );
  });

  it("a crash anywhere inside a compaction leaves the old records or the new ones, never a mix or nothing (200 seeds)", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const fs = new FaultFs({ seed });
      fs.mkdir("/d");
      const { log } = openCollect("/d/x.log", fs);
      for (let i = 0; i < 6; i++) log.append(rec(i));
      log.sync();
      fs.crashAfterOps(seed % 8);
      try {
        log.rewrite([rec(4), rec(5)]);
      } catch (e) {
        expect((e as { code?: string }).code).toBe("STORE_IO");
      }
      fs.restart();
      const read = openCollect("/d/x.log", fs).got.map(dec);
      const old = [0, 1, 2, 3, 4, 5].map((i) => dec(rec(i)));
      expect([JSON.stringify(old), JSON.stringify([dec(rec(4)), dec(rec(5))])], `seed ${seed}`).toContain(
        JSON.stringify(read),
      );
    }
  });
});
