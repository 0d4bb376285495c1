// The consensus node's block store and selection snapshot on the fault-injecting file system:
// segments sealed at a size so that opening reads a bounded amount (the last segment), blocks of
// sealed segments read on demand, a torn tail cut, damage to fsynced blocks STORE_CORRUPT, crashes
// at every file operation never losing a stored block, the old single-file layout migrated, and
// the snapshot's checksum catching a flipped bit that JSON alone would read as another state.
import { describe, expect, it } from "vitest";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  BlockStore,
  FileWal,
  SelectionSnapshot,
  VoteType,
  encodeMessage,
  frameRecord,
  signProposal,
  signVote,
  valueIdOf,
  type CommitCertificate,
} from "../../bindings/consensus/index.ts";
import { FaultFs, LOG_HEADER_BYTES, type FilePort } from "../../bindings/store/index.ts";
import { SelectionState, DEFAULT_SELECTION_PARAMS } from "../../bindings/selection/index.ts";
import { ChainDbError, toHex } from "../../bindings/util/index.ts";
import { replay, seedRange } from "../helpers/seeds.ts";

const FILE = "test/consensus/consensus-block-store.test.ts";
const CHAIN = "store-chain";
const key = keyPairFromSeed(new Uint8Array(32).fill(9));
const SEGMENT = 4096;

const certs = new Map<number, CommitCertificate>();
/** A signed certificate of height `h` (a block of ~200 bytes), the same on every call. */
function cert(h: number): CommitCertificate {
  let c = certs.get(h);
  if (c === undefined) {
    const value = new TextEncoder().encode(`block ${h} `.padEnd(200, "."));
    const proposal = signProposal(CHAIN, key.secretKey, key.publicKey, {
      height: h,
      round: 0,
      validRound: -1,
      value,
    });
    const vote = signVote(CHAIN, key.secretKey, key.publicKey, {
      type: VoteType.Precommit,
      height: h,
      round: 0,
      valueId: valueIdOf(value),
    });
    certs.set(h, (c = { kind: "commit", proposal, precommits: [vote] }));
  }
  return c;
}

const same = (a: CommitCertificate | undefined, h: number) =>
  a !== undefined && toHex(encodeMessage(a)) === toHex(encodeMessage(cert(h)));

/** A port that counts the bytes read through it. */
function counting(port: FilePort): FilePort & { bytesRead: number } {
  const out: FilePort & { bytesRead: number } = {
    bytesRead: 0,
    open: (file, flags) => port.open(file, flags),
    read: (fd, buffer, offset, length, position) => {
      const n = port.read(fd, buffer, offset, length, position);
      out.bytesRead += n;
      return n;
    },
    write: (fd, buffer, offset, length, position) => port.write(fd, buffer, offset, length, position),
    truncate: (fd, size) => port.truncate(fd, size),
    fsync: (fd) => port.fsync(fd),
    size: (fd) => port.size(fd),
    close: (fd) => port.close(fd),
    exists: (file) => port.exists(file),
    rename: (from, to) => port.rename(from, to),
    unlink: (file) => port.unlink(file),
    fsyncDir: (dir) => port.fsyncDir(dir),
    mkdir: (dir) => port.mkdir(dir),
    readdir: (dir) => port.readdir(dir),
  };
  return out;
}

function fill(fs: FilePort, to: number): void {
  const store = BlockStore.open({ dir: "/node", port: fs, segmentBytes: SEGMENT });
  for (let h = store.tip + 1; h <= to; h++) store.put(h, cert(h));
  store.close();
}

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof ChainDbError ? e.code : `raw ${String(e)}`;
  }
  return "none";
};

describe("block store segments", () => {
  it("opens by reading the last segment only, whatever the chain's length; old blocks on demand", () => {
    const fs = new FaultFs({ seed: 1 });
    fill(fs, 400);
    const segments = fs.readdir("/node/blocks").filter((n) => n.endsWith(".seg"));
    expect(segments.length).toBeGreaterThan(20);
    const port = counting(fs);
    const store = BlockStore.open({ dir: "/node", port, segmentBytes: SEGMENT });
    expect(store.tip).toBe(400);
    // The bound: one segment (sealed at SEGMENT bytes, so at most one block over) and its header.
    const frame = 16 + encodeMessage(cert(1)).length + 9;
    expect(port.bytesRead).toBeLessThanOrEqual(SEGMENT + frame + LOG_HEADER_BYTES);
    const atOpen = port.bytesRead;
    expect(same(store.get(3), 3)).toBe(true);
    // One lookup in a sealed segment reads that segment once (to index it), then one frame.
    expect(port.bytesRead - atOpen).toBeLessThanOrEqual(SEGMENT + frame + LOG_HEADER_BYTES + frame);
    for (let h = 1; h <= 400; h++) expect(same(store.get(h), h), `block ${h}`).toBe(true);
    expect(store.get(401)).toBeUndefined();
    expect(store.get(0)).toBeUndefined();
    store.put(401, cert(401));
    store.close();
    expect(BlockStore.open({ dir: "/node", port: fs, segmentBytes: SEGMENT }).tip).toBe(401);
  });

  it("cuts a torn tail of the last segment; damage to fsynced blocks is STORE_CORRUPT", () => {
    const fs = new FaultFs({ seed: 2 });
    fill(fs, 100);
    const names = fs.readdir("/node/blocks").filter((n) => n.endsWith(".seg"));
    const last = `/node/blocks/${names[names.length - 1]}`;
    // A zero-filled tail (the file grew, its data never reached the disk): cut, nothing lost.
    const bytes = fs.contents(last)!;
    fs.setFile(last, new Uint8Array([...bytes, ...new Uint8Array(40)]));
    expect(BlockStore.open({ dir: "/node", port: fs, segmentBytes: SEGMENT }).tip).toBe(100);
    // A flipped bit in the first block of the last segment, with fsynced blocks after it.
    fs.flipBit(last, LOG_HEADER_BYTES + 30);
    expect(code(() => BlockStore.open({ dir: "/node", port: fs, segmentBytes: SEGMENT }))).toBe(
      "STORE_CORRUPT",
    );
    fs.flipBit(last, LOG_HEADER_BYTES + 30);
    // A flipped bit in a sealed segment: its blocks are STORE_CORRUPT when read, never missing.
    const first = `/node/blocks/${names[1]}`;
    fs.flipBit(first, fs.contents(first)!.length - 20);
    const store = BlockStore.open({ dir: "/node", port: fs, segmentBytes: SEGMENT });
    expect(store.tip).toBe(100);
    const firstHeight = Number(names[1]!.slice(0, 16));
    expect(code(() => store.get(firstHeight))).toBe("STORE_CORRUPT");
    expect(same(store.get(1), 1)).toBe(true);
  });

  it(`never loses a stored block at any crash point (${seedRange(300, 3000).length} seeded points)`, () => {
    let crashes = 0;
    for (const seed of seedRange(300, 3000)) {
      const fs = new FaultFs({ seed, crashAfterOps: 1 + (seed % 150) });
      let stored = 0;
      try {
        const store = BlockStore.open({ dir: "/node", port: fs, segmentBytes: 1024 });
        for (let h = 1; h <= 30; h++) (store.put(h, cert(h)), (stored = h));
        store.close();
      } catch (e) {
        if (!fs.crashed) throw e;
      }
      if (fs.crashed) crashes++;
      fs.restart();
      const store = BlockStore.open({ dir: "/node", port: fs, segmentBytes: 1024 });
      expect(store.tip, replay(FILE, seed)).toBeGreaterThanOrEqual(stored);
      for (let h = 1; h <= store.tip; h++) expect(same(store.get(h), h), replay(FILE, seed)).toBe(true);
      for (let h = store.tip + 1; h <= 32; h++) store.put(h, cert(h));
      expect(store.tip).toBe(32);
    }
    if (process.env.CHAINDB_SEEDS === undefined) expect(crashes).toBeGreaterThan(200);
  });
});

describe("block store migration", () => {
  it("moves an old single-file blocks.wal into segments, also when a crash cuts the move", () => {
    for (let crashAt = 0; crashAt <= 120; crashAt += 3) {
      const fs = new FaultFs({ seed: crashAt });
      fs.mkdir("/node");
      const old = FileWal.open("/node/blocks.wal", fs);
      for (let h = 1; h <= 40; h++) old.append({ type: "decide", height: h, certificate: cert(h) }, true);
      old.close();
      if (crashAt > 0) {
        fs.crashAfterOps(crashAt);
        try {
          BlockStore.open({ dir: "/node", port: fs, segmentBytes: SEGMENT }).close();
        } catch (e) {
          if (!fs.crashed) throw e;
        }
        fs.restart();
      }
      const store = BlockStore.open({ dir: "/node", port: fs, segmentBytes: SEGMENT });
      expect(store.tip, `crash at op ${crashAt}`).toBe(40);
      for (let h = 1; h <= 40; h++) expect(same(store.get(h), h)).toBe(true);
      expect(fs.exists("/node/blocks.wal")).toBe(false);
    }
  });

  it("refuses a blocks.wal older than the append log with STORE_FORMAT", () => {
    const fs = new FaultFs({ seed: 3 });
    fs.setFile("/node/blocks.wal", frameRecord({ type: "decide", height: 1, certificate: cert(1) }));
    expect(code(() => BlockStore.open({ dir: "/node", port: fs }))).toBe("STORE_FORMAT");
  });
});

describe("selection snapshot", () => {
  const state = SelectionState.genesis({ ...DEFAULT_SELECTION_PARAMS, mode: "pos" }, [
    { address: key.publicKey, stake: 123_456n },
  ]);

  it("survives a crash right after the write (file and directory fsynced)", () => {
    const fs = new FaultFs({ seed: 4, crashMode: "drop" });
    fs.mkdir("/node");
    new SelectionSnapshot("/node", fs).write(5, state, state);
    fs.restart();
    const read = new SelectionSnapshot("/node", fs).read();
    expect(read?.height).toBe(5);
    expect(SelectionState.fromJSON(read!.state).hash()).toEqual(state.hash());
  });

  it("reads a flipped digit as STORE_CORRUPT, never as another state", () => {
    const fs = new FaultFs({ seed: 5 });
    fs.mkdir("/node");
    new SelectionSnapshot("/node", fs).write(5, state, state);
    const bytes = fs.contents("/node/selection.json")!;
    const text = new TextDecoder("latin1").decode(bytes);
    const digit = text.indexOf("123456");
    expect(digit).toBeGreaterThan(0);
    fs.flipBit("/node/selection.json", digit + 2); // '3' → '2': valid JSON, another stake
    expect(code(() => new SelectionSnapshot("/node", fs).read())).toBe("STORE_CORRUPT");
  });

  it("still reads a snapshot of the layout before frames (plain JSON)", () => {
    const fs = new FaultFs({ seed: 6 });
    const stored = { height: 2, state: state.toJSON(), previous: null };
    fs.setFile("/node/selection.json", new TextEncoder().encode(JSON.stringify(stored)));
    expect(new SelectionSnapshot("/node", fs).read()?.height).toBe(2);
  });
});
