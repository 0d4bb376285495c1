/**
 * Length-prefixed framing for stream transports: each frame is a 4-byte big-endian length
 * followed by that many bytes (the framing of most RPC protocols, e.g. Bitcoin's P2P messages
 * carry a length; here without a checksum: on TcpTransport every body after the handshake is
 * AEAD-sealed, which authenticates it). The decoder refuses a frame longer than its maximum before buffering it, so a peer
 * cannot make us allocate more than one maximum frame.
 * @module
 */
import { ChainDbError, ErrorCode, aint, assert } from "../util/index.ts";

/** Bytes of the length prefix. */
export const FRAME_HEADER_SIZE = 4;
/**
 * Default largest frame body: 10 MiB, sized from the largest real message at default settings
 * (test/net/frame-limit.test.ts builds them with the real encoders): a replication catch-up append
 * of 64 blocks × 1,000 transfers is 10,050,854 bytes; the largest consensus commit the protocol
 * allows (10,000 staking transactions of 383 bytes, 1,024 precommits, 64 evidence) 4,165,928; a
 * commit of a default 1,000-transfer block 160,440; a gossiped proof-of-work block 157,259.
 */
export const FRAME_MAX_DEFAULT = 10 * 1024 * 1024;

/** Encodes one frame: length prefix ‖ body. */
export function encodeFrame(body: Uint8Array, frameMax = FRAME_MAX_DEFAULT): Uint8Array {
  if (body.length > frameMax) {
    throw new ChainDbError(
      ErrorCode.FRAME_TOO_LARGE,
      `frame of ${body.length} bytes exceeds the maximum of ${frameMax}`,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_SIZE + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, FRAME_HEADER_SIZE);
  return out;
}

/** Splits a byte stream into frames; throws `FRAME_TOO_LARGE` or `BAD_MESSAGE` on a bad stream. */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Largest accepted body; may be raised later (e.g. once a peer is authenticated). */
  frameMax: number;

  /** A decoder refusing bodies longer than `frameMax` bytes. */
  constructor(frameMax = FRAME_MAX_DEFAULT) {
    this.frameMax = aint(frameMax, 1, 2 ** 31, "frameMax");
  }

  /** Bytes received but not yet returned as frames (a truncated frame at the end of a stream). */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Adds received bytes; returns every frame they complete, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.feed(chunk);
    const frames: Uint8Array[] = [];
    // Bounded: each iteration consumes one whole frame of the buffered bytes.
    for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    return frames;
  }

  /** Adds received bytes without splitting them (then take frames with {@link next}). */
  feed(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    // A copy: the caller may reuse its buffer (a pooled Node Buffer) while a frame is incomplete.
    this.chunks.push(new Uint8Array(chunk));
    this.buffered += chunk.length;
  }

  /**
   * The next complete frame, or undefined if none is buffered yet. One at a time, so the caller
   * may change {@link frameMax} between frames (a handshake frame followed by a large data frame).
   */
  next(): Uint8Array | undefined {
    if (this.buffered < FRAME_HEADER_SIZE) return undefined;
    const head = this.peek(FRAME_HEADER_SIZE);
    const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, false);
    if (length > this.frameMax) {
      throw new ChainDbError(
        ErrorCode.FRAME_TOO_LARGE,
        `incoming frame of ${length} bytes exceeds the maximum of ${this.frameMax}`,
      );
    }
    if (length === 0) throw new ChainDbError(ErrorCode.BAD_MESSAGE, "empty frame");
    if (this.buffered < FRAME_HEADER_SIZE + length) return undefined;
    return this.take(FRAME_HEADER_SIZE + length).subarray(FRAME_HEADER_SIZE);
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    return this.concat(n);
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.slice(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = this.concat(n);
      let left = n;
      while (left > 0) {
        const c = this.chunks[0]!;
        if (c.length <= left) {
          left -= c.length;
          this.chunks.shift();
        } else {
          this.chunks[0] = c.subarray(left);
          left = 0;
        }
      }
    }
    this.buffered -= n;
    assert(this.buffered >= 0, "buffered bytes never go negative");
    return out;
  }

  private concat(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      if (at >= n) break;
      const part = c.subarray(0, Math.min(c.length, n - at));
      out.set(part, at);
      at += part.length;
    }
    assert(at === n, "concat has the bytes it was asked for");
    return out;
  }
}
