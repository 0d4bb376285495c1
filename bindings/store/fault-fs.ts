/**
 * A fault-injecting in-memory file system behind the {@link FilePort}, for crash tests (the storage
 * fault model of TigerBeetle's `src/testing/storage.zig` and ALICE, Pillai et al., OSDI 2014, "All
 * File Systems Are Not Created Equal"): every file has a volatile content and a durable one, every
 * directory volatile and durable entries. `fsync` makes a file's content durable, `fsyncDir` its
 * directory's entries (creates, renames, unlinks). At a crash — {@link FaultFs.crash}, or
 * automatically after a chosen number of operations ({@link FaultFsOptions.crashAfterOps}) — the
 * durable state survives and each write since the file's last fsync is independently lost, kept,
 * torn (a prefix of it kept) or kept as zeros (the size grew but the data never reached the disk),
 * chosen by the seed; a directory entry not fsynced is lost. Between crashes it can return ENOSPC or
 * EIO from chosen operations and flip bits of durable data (a latent sector error). Everything
 * random comes from one seed, so a failing case replays exactly.
 *
 * Simplifications: directories exist once created (mkdir is durable at once); a file's size is
 * its data (no separate metadata update); reads see the volatile state, as the page cache does.
 * @module
 */
import * as path from "node:path";
import { assert } from "../util/index.ts";
import type { FilePort, OpenFlags } from "./file-port.ts";

/** What a crash does to the writes since each file's last fsync. */
export type CrashMode = "drop" | "random";

/** Options of a fault file system. */
export interface FaultFsOptions {
  /** Seed of every random choice. */
  readonly seed: number;
  /** Crash (all later operations fail with ECRASH) once this many mutating operations have run. */
  readonly crashAfterOps?: number;
  /** What a crash keeps of unsynced writes: nothing (`drop`) or a seeded mix (`random`, default). */
  readonly crashMode?: CrashMode;
}

/** Which operation an injected error hits. */
export type FaultOp = "open" | "read" | "write" | "truncate" | "fsync" | "rename" | "unlink" | "fsyncDir";

/** An injected error: the `nth` (1-based, counted from now) call of `op` fails with `code`. */
export interface FaultRule {
  readonly op: FaultOp;
  readonly nth: number;
  readonly code: "ENOSPC" | "EIO";
  /** Only for paths containing this text. */
  readonly pathIncludes?: string;
}

interface Write {
  readonly position: number;
  readonly bytes: Uint8Array | null; // null: a truncate to `position`
}

class Inode {
  data = new Uint8Array(0);
  size = 0;
  pending: Write[] = [];
  /**
   * The durable content, grown in place: an fsync applies only the writes since the last one.
   * Copying the whole file at each fsync made a SQLite ledger's fsyncs quadratic (51% of a node
   * simulation's time, pos seed 5; about 7× faster seeds with this).
   */
  private durableData: Uint8Array = new Uint8Array(0);
  private durableSize = 0;

  get durable(): Uint8Array {
    return this.durableData.subarray(0, this.durableSize);
  }

  set durable(bytes: Uint8Array) {
    this.durableData = bytes;
    this.durableSize = bytes.length;
  }

  /** fsync: the pending writes reach the durable content, in order. */
  sync(): void {
    for (const w of this.pending) {
      if (w.bytes === null) this.resizeDurable(w.position);
      else {
        if (w.position + w.bytes.length > this.durableSize) this.resizeDurable(w.position + w.bytes.length);
        this.durableData.set(w.bytes, w.position);
      }
    }
    this.pending = [];
  }

  private resizeDurable(size: number): void {
    if (size > this.durableData.length) {
      const grown = new Uint8Array(Math.max(size, this.durableData.length * 2, 64));
      grown.set(this.durableData.subarray(0, this.durableSize));
      this.durableData = grown;
    } else if (size < this.durableSize) this.durableData.fill(0, size, this.durableSize);
    this.durableSize = size;
  }

  content(): Uint8Array {
    return this.data.subarray(0, this.size);
  }

  setSize(size: number): void {
    if (size > this.data.length) {
      const grown = new Uint8Array(Math.max(size, this.data.length * 2, 64));
      grown.set(this.data.subarray(0, this.size));
      this.data = grown;
    } else if (size < this.size) this.data.fill(0, size, this.size);
    this.size = size;
  }

  write(position: number, bytes: Uint8Array): void {
    if (position + bytes.length > this.size) this.setSize(position + bytes.length);
    this.data.set(bytes, position);
  }
}

interface OpenFile {
  readonly inode: Inode;
  readonly path: string;
  readonly readOnly: boolean;
}

/** A tiny seeded generator (splitmix32): the file system must not depend on the net layer's. */
class Rng {
  constructor(private s: number) {}
  u32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  int(n: number): number {
    return Math.floor((this.u32() / 2 ** 32) * n);
  }
}

function errno(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** The fault-injecting file system (see the module comment). */
export class FaultFs implements FilePort {
  private readonly names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private readonly dirs = new Set<string>(["/"]);
  private files = new Map<number, OpenFile>();
  private nextFd = 3;
  private rules: Array<FaultRule & { seen: number }> = [];
  private readonly rng: Rng;
  private crashAfter: number | undefined;
  /** Mutating operations run so far (what {@link FaultFsOptions.crashAfterOps} counts). */
  opsDone = 0;
  /** True once crashed, until {@link FaultFs.restart}. */
  crashed = false;
  /** Crashes so far. */
  crashes = 0;
  /** Writes lost, torn or zeroed by crashes so far (tests check the faults happened). */
  readonly damage = { lost: 0, torn: 0, zeroed: 0, kept: 0, entriesLost: 0 };

  /** A file system seeded with `options.seed`. */
  constructor(private readonly options: FaultFsOptions) {
    this.rng = new Rng(options.seed >>> 0);
    this.crashAfter = options.crashAfterOps;
  }

  /** Arms a crash after `ops` more mutating operations (undefined disarms). */
  crashAfterOps(ops: number | undefined): void {
    this.crashAfter = ops === undefined ? undefined : this.opsDone + ops;
  }

  /** Adds an injected error. */
  inject(rule: FaultRule): void {
    this.rules.push({ ...rule, seen: 0 });
  }

  /** Flips bit `bit` of byte `offset` of `file`, in its volatile and its durable content. */
  flipBit(file: string, offset: number, bit = 0): void {
    const inode = this.names.get(path.resolve(file));
    assert(inode !== undefined && offset < inode.size, `flipBit: no byte ${offset} in ${file}`);
    inode.data[offset]! ^= 1 << bit;
    if (offset < inode.durable.length) inode.durable[offset]! ^= 1 << bit;
  }

  /** The current (volatile) content of `file`, or undefined. */
  contents(file: string): Uint8Array | undefined {
    return this.names.get(path.resolve(file))?.content().slice();
  }

  /** Writes `bytes` as the durable content of `file` (test setup), creating the entry durably. */
  setFile(file: string, bytes: Uint8Array): void {
    const key = path.resolve(file);
    const inode = new Inode();
    inode.write(0, bytes);
    inode.durable = bytes.slice();
    this.names.set(key, inode);
    this.durableNames.set(key, inode);
    this.dirs.add(path.dirname(key));
  }

  /** Power loss now: every later operation fails with ECRASH until {@link FaultFs.restart}. */
  crash(): void {
    this.crashed = true;
  }

  /** Comes back from a crash (or crashes now and comes back): only what was durable survives. */
  restart(): void {
    const random = (this.options.crashMode ?? "random") === "random";
    for (const [name] of this.names) if (!this.durableNames.has(name)) this.damage.entriesLost++;
    this.names.clear();
    for (const [name, inode] of this.durableNames) this.names.set(name, inode);
    for (const inode of new Set(this.durableNames.values())) this.settle(inode, random);
    this.files = new Map();
    this.crashed = false;
    this.crashes++;
    this.crashAfter = undefined;
    this.rules = [];
  }

  /** One inode after power loss: its durable content plus a seeded choice of its unsynced writes. */
  private settle(inode: Inode, random: boolean): void {
    const pending = inode.pending;
    inode.pending = [];
    inode.size = 0;
    inode.data = new Uint8Array(0);
    inode.write(0, inode.durable);
    if (inode.durable.length === 0) inode.setSize(0);
    for (const w of pending) {
      const fate = random ? this.rng.int(5) : 0; // 0 lost, 1 torn, 2 zeroed, 3-4 kept
      if (fate === 0) this.damage.lost++;
      else if (w.bytes === null) inode.setSize(w.position);
      else if (fate === 1) {
        this.damage.torn++;
        inode.write(w.position, w.bytes.subarray(0, this.rng.int(w.bytes.length)));
      } else if (fate === 2) {
        this.damage.zeroed++;
        inode.write(w.position, new Uint8Array(w.bytes.length));
      } else {
        this.damage.kept++;
        inode.write(w.position, w.bytes);
      }
    }
    inode.durable = inode.content().slice();
  }

  private check(op: FaultOp, file: string, mutating: boolean): void {
    if (this.crashed) throw errno("ECRASH", `${op} ${file}: the machine crashed`);
    if (mutating) {
      if (this.crashAfter !== undefined && this.opsDone >= this.crashAfter) {
        this.crashed = true;
        throw errno("ECRASH", `${op} ${file}: the machine crashed`);
      }
      this.opsDone++;
    }
    for (const rule of this.rules) {
      if (rule.op !== op || (rule.pathIncludes !== undefined && !file.includes(rule.pathIncludes))) continue;
      if (++rule.seen === rule.nth) throw errno(rule.code, `${op} ${file} (injected)`);
    }
  }

  private fileOf(fd: number): OpenFile {
    const f = this.files.get(fd);
    if (f === undefined) throw errno("EBADF", `descriptor ${fd}`);
    return f;
  }

  open(file: string, flags: OpenFlags = {}): number {
    const key = path.resolve(file);
    this.check("open", key, flags.create === true || flags.truncate === true);
    let inode = this.names.get(key);
    if (inode !== undefined && flags.create && flags.exclusive) throw errno("EEXIST", key);
    if (inode === undefined) {
      if (!flags.create) throw errno("ENOENT", key);
      if (!this.dirs.has(path.dirname(key))) throw errno("ENOENT", `${path.dirname(key)} (no directory)`);
      inode = new Inode();
      this.names.set(key, inode);
    }
    if (flags.truncate && inode.size > 0) {
      inode.setSize(0);
      inode.pending.push({ position: 0, bytes: null });
    }
    const fd = this.nextFd++;
    this.files.set(fd, { inode, path: key, readOnly: flags.readOnly === true });
    return fd;
  }

  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const f = this.fileOf(fd);
    this.check("read", f.path, false);
    const n = Math.max(0, Math.min(length, f.inode.size - position));
    buffer.set(f.inode.data.subarray(position, position + n), offset);
    return n;
  }

  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const f = this.fileOf(fd);
    if (f.readOnly) throw errno("EBADF", `${f.path} is open read-only`);
    this.check("write", f.path, true);
    const bytes = buffer.slice(offset, offset + length);
    f.inode.write(position, bytes);
    f.inode.pending.push({ position, bytes });
    return length;
  }

  truncate(fd: number, size: number): void {
    const f = this.fileOf(fd);
    this.check("truncate", f.path, true);
    f.inode.setSize(size);
    f.inode.pending.push({ position: size, bytes: null });
  }

  fsync(fd: number): void {
    const f = this.fileOf(fd);
    this.check("fsync", f.path, true);
    f.inode.sync();
  }

  size(fd: number): number {
    const f = this.fileOf(fd);
    if (this.crashed) throw errno("ECRASH", `fstat ${f.path}: the machine crashed`);
    return f.inode.size;
  }

  close(fd: number): void {
    this.files.delete(fd); // never fails: closing after a crash is how callers let go
  }

  exists(file: string): boolean {
    if (this.crashed) throw errno("ECRASH", `stat ${file}: the machine crashed`);
    const key = path.resolve(file);
    return this.names.has(key) || this.dirs.has(key);
  }

  rename(from: string, to: string): void {
    const [a, b] = [path.resolve(from), path.resolve(to)];
    this.check("rename", b, true);
    const inode = this.names.get(a);
    if (inode === undefined) throw errno("ENOENT", a);
    this.names.delete(a);
    this.names.set(b, inode);
  }

  unlink(file: string): void {
    const key = path.resolve(file);
    if (!this.names.has(key)) return;
    this.check("unlink", key, true);
    this.names.delete(key);
  }

  fsyncDir(dir: string): void {
    const key = path.resolve(dir);
    this.check("fsyncDir", key, true);
    if (!this.dirs.has(key)) throw errno("ENOENT", key);
    for (const name of [...this.durableNames.keys()])
      if (path.dirname(name) === key && !this.names.has(name)) this.durableNames.delete(name);
    for (const [name, inode] of this.names)
      if (path.dirname(name) === key) this.durableNames.set(name, inode);
  }

  mkdir(dir: string): void {
    if (this.crashed) throw errno("ECRASH", `mkdir ${dir}: the machine crashed`);
    for (let d = path.resolve(dir); !this.dirs.has(d); d = path.dirname(d)) this.dirs.add(d);
  }

  readdir(dir: string): string[] {
    if (this.crashed) throw errno("ECRASH", `readdir ${dir}: the machine crashed`);
    const key = path.resolve(dir);
    if (!this.dirs.has(key)) throw errno("ENOENT", key);
    const out = new Set<string>();
    for (const name of this.names.keys()) if (path.dirname(name) === key) out.add(path.basename(name));
    for (const d of this.dirs) if (d !== key && path.dirname(d) === key) out.add(path.basename(d));
    return [...out].sort();
  }
}

/**
 * A port whose fsyncs (of files and directories) return without making anything durable: a
 * deliberately broken disk for checker self-tests, which the crash invariants must catch.
 */
export function withoutFsync(port: FilePort): FilePort {
  return wrapPort(port, { fsync: () => {}, fsyncDir: () => {} });
}

/**
 * A port with a background fsync ({@link FilePort.fsyncAsync}, which group commit uses) that
 * completes `delayMs` later on `timers` — a simulated node's clock — so a simulation's crashes can
 * land while a group commit's fsync runs. A crash cancels that clock's timers: the fsync then never
 * happens and the writes it would have covered are lost, as at a power loss. A simulation's settle
 * step treats a node waiting on such an fsync as quiet ({@link SlowFsyncPort.whenWaiting}): only
 * virtual time can finish it. `delayMs()` of 0 fsyncs at once (a simulation's set-up, before its
 * clock runs).
 */
export class SlowFsyncPort {
  /** The port to hand to the log. */
  readonly port: FilePort;
  private pending = 0;
  private waiting: (() => void)[] = [];

  constructor(
    inner: FilePort,
    timers: { setTimer(delayMs: number, fn: () => void): () => void },
    delayMs: () => number,
    /** Called as each background fsync starts (a simulation may schedule a crash inside it). */
    onStart?: () => void,
  ) {
    const fsyncAsync = (fd: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const delay = delayMs();
        if (delay === 0) return resolve(inner.fsync(fd));
        this.pending++;
        for (const wake of this.waiting.splice(0)) wake();
        onStart?.();
        timers.setTimer(delay, () => {
          this.pending--;
          try {
            inner.fsync(fd);
            resolve();
          } catch (e) {
            reject(e as Error);
          }
        });
      });
    this.port = wrapPort(inner, { fsyncAsync });
  }

  /** Resolves once a background fsync is in flight (at once if one is). */
  whenWaiting(): Promise<void> {
    return this.pending > 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** True while a background fsync is in flight. */
  get fsyncing(): boolean {
    return this.pending > 0;
  }
}

/**
 * Every method of `port` bound to it (a FaultFs is a class: its methods need their `this`), not
 * its background fsync, with `overrides` in place.
 */
export function wrapPort(port: FilePort, overrides: Partial<FilePort> = {}): FilePort {
  return {
    open: (file, flags) => port.open(file, flags),
    read: (fd, buffer, offset, length, position) => port.read(fd, buffer, offset, length, position),
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
    ...overrides,
  };
}
