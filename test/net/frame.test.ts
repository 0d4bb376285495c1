// FrameDecoder and encodeFrame: known answers, any chunking of a stream gives the same frames,
// limits refused before buffering, and fuzzing — random streams in random chunks give frames or a
// coded error, never another exception, and never buffer more than one frame.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChainDbError, ErrorCode } from "../../bindings/util/index.ts";
import { FRAME_HEADER_SIZE, FrameDecoder, encodeFrame } from "../../bindings/net/index.ts";

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};

/** Splits `bytes` at the given cut points (taken modulo the length). */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) (out.push(bytes.subarray(from, p)), (from = p));
  return out;
}

const coded = (error: unknown, ...codes: string[]) => {
  expect(error).toBeInstanceOf(ChainDbError);
  expect(codes).toContain((error as ChainDbError).code);
};

describe("encodeFrame", () => {
  it("writes a 4-byte big-endian length before the body", () => {
    expect([...encodeFrame(new Uint8Array([7, 8, 9]))]).toEqual([0, 0, 0, 3, 7, 8, 9]);
    expect([...encodeFrame(new Uint8Array(0x0102).fill(1)).subarray(0, 4)]).toEqual([0, 0, 1, 2]);
  });

  it("refuses a body over the maximum with FRAME_TOO_LARGE", () => {
    expect(() => encodeFrame(new Uint8Array(11), 10)).toThrowError(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
  });
});

describe("FrameDecoder", () => {
  it("returns whole frames in order, keeps a partial one, and copies out of the input", () => {
    const d = new FrameDecoder(100);
    const input = new Uint8Array([0, 0, 0, 2, 1, 2, 0, 0, 0, 3, 4, 5]);
    const frames = d.push(input);
    expect(frames.map((f) => [...f])).toEqual([[1, 2]]);
    expect(d.pendingBytes).toBe(6);
    input.fill(0); // the caller may reuse its buffer (a pooled Node Buffer)
    expect(frames[0]![0]).toBe(1);
    expect(d.push(new Uint8Array([6])).map((f) => [...f])).toEqual([[4, 5, 6]]);
    expect(d.pendingBytes).toBe(0);
    expect(d.push(new Uint8Array(0))).toEqual([]);
  });

  it("reads a header split over chunks, from views at odd offsets", () => {
    const d = new FrameDecoder(100);
    const backing = new Uint8Array(16);
    backing.set([0, 0, 0, 1, 9], 3);
    expect(d.push(backing.subarray(3, 5))).toEqual([]);
    expect(d.push(backing.subarray(5, 6))).toEqual([]);
    expect(d.push(backing.subarray(6, 8)).map((f) => [...f])).toEqual([[9]]);
  });

  it("refuses an oversized length as soon as its header arrives, before buffering the body", () => {
    const d = new FrameDecoder(10);
    expect(() => d.push(new Uint8Array([0, 0, 0, 11]))).toThrowError(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
    expect(d.pendingBytes).toBe(4);
    expect(() => new FrameDecoder(10).push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrowError(
      expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
    );
  });

  it("refuses an empty frame with BAD_MESSAGE", () => {
    expect(() => new FrameDecoder(10).push(new Uint8Array([0, 0, 0, 0]))).toThrowError(
      expect.objectContaining({ code: ErrorCode.BAD_MESSAGE }),
    );
  });

  it("next() takes one frame at a time, so the limit can rise between frames", () => {
    const d = new FrameDecoder(4);
    d.feed(concat([encodeFrame(new Uint8Array(3)), encodeFrame(new Uint8Array(50))]));
    expect(d.next()!.length).toBe(3);
    expect(() => d.next()).toThrowError(expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }));
    d.frameMax = 64;
    expect(d.next()!.length).toBe(50);
    expect(d.next()).toBeUndefined();
  });

  it("rejects a bad maximum as a coded argument error", () => {
    expect(() => new FrameDecoder(0)).toThrow(ChainDbError);
    expect(() => new FrameDecoder(2 ** 31 + 1)).toThrow(ChainDbError);
  });

  it("property: any chunking of a stream of frames gives the same frames", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bodies, cuts) => {
          const stream = concat(bodies.map((b) => encodeFrame(b, 64)));
          const d = new FrameDecoder(64);
          const got = chunked(stream, cuts).flatMap((c) => d.push(c));
          expect(got).toEqual(bodies);
          expect(d.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 1000, seed: 1404 },
    );
  });

  it("fuzz: random and mutated streams give frames or a coded error, and buffer at most one frame", () => {
    const frameMax = 64;
    const run = (stream: Uint8Array, cuts: number[]) => {
      const d = new FrameDecoder(frameMax);
      try {
        for (const c of chunked(stream, cuts)) {
          for (const f of d.push(c)) expect(f.length).toBeGreaterThan(0);
          expect(d.pendingBytes).toBeLessThanOrEqual(FRAME_HEADER_SIZE + frameMax + c.length);
        }
      } catch (error) {
        coded(error, ErrorCode.FRAME_TOO_LARGE, ErrorCode.BAD_MESSAGE);
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 10 }), run), {
      numRuns: 2000,
      seed: 1405,
    });
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bodies, edits, cuts) => {
          const stream = concat(bodies.map((b) => encodeFrame(b)));
          for (const [at, x] of edits) stream[at % stream.length] = x;
          run(stream, cuts);
        },
      ),
      { numRuns: 2000, seed: 1406 },
    );
  });
});
