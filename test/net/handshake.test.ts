// The secure channel's handshake messages and sealing (bindings/net/secure.ts): both sides derive
// mirrored keys, sealed frames open only once, in order and unmodified, and fuzzing of HELLO, AUTH,
// sealed frames and whole mutated handshakes against a live TcpTransport — each input is accepted
// or refused with a coded error, never another exception.
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChainDbError, ErrorCode } from "../../bindings/util/index.ts";
import {
  FrameDecoder,
  HELLO_SIZE,
  Sealer,
  TcpTransport,
  authStatement,
  decodeAuth,
  decodeHello,
  deriveSession,
  encodeAuth,
  encodeFrame,
  encodeHello,
  newEphemeral,
  nodeKeyFromSeed,
  verifyAuth,
} from "../../bindings/net/index.ts";

const network = new TextEncoder().encode("chaindb");
const keyA = nodeKeyFromSeed(new Uint8Array(32).fill(1));
const keyB = nodeKeyFromSeed(new Uint8Array(32).fill(2));

function coded(fn: () => unknown, ...codes: string[]): unknown {
  try {
    return fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ChainDbError);
    expect(codes).toContain((error as ChainDbError).code);
    return undefined;
  }
}

describe("handshake primitives", () => {
  it("both sides derive mirrored keys and the same challenge; a third key derives neither", () => {
    const [x, y, z] = [newEphemeral(), newEphemeral(), newEphemeral()];
    const sx = deriveSession(x, y.publicKey, network);
    const sy = deriveSession(y, x.publicKey, network);
    expect(sx.sendKey).toEqual(sy.receiveKey);
    expect(sx.receiveKey).toEqual(sy.sendKey);
    expect(sx.challenge).toEqual(sy.challenge);
    expect(sx.sendKey).not.toEqual(sx.receiveKey);
    const sz = deriveSession(z, y.publicKey, network);
    expect(sz.challenge).not.toEqual(sx.challenge);
    expect(deriveSession(x, y.publicKey, new TextEncoder().encode("other")).challenge).not.toEqual(
      sx.challenge,
    ); // the network name is bound
  });

  it("refuses our own ephemeral key reflected back, and a low-order point", () => {
    const x = newEphemeral();
    expect(() => deriveSession(x, x.publicKey, network)).toThrowError(
      expect.objectContaining({ code: ErrorCode.HANDSHAKE_FAILED }),
    );
    expect(() => deriveSession(x, new Uint8Array(32), network)).toThrowError(
      expect.objectContaining({ code: ErrorCode.HANDSHAKE_FAILED }),
    );
  });

  it("AUTH round-trips and verifies only over its own statement", () => {
    const challenge = new Uint8Array(32).fill(5);
    const eph = new Uint8Array(32).fill(6);
    const statement = authStatement(network, challenge, eph);
    const auth = decodeAuth(encodeAuth("a", keyA, statement));
    expect(auth.id).toBe("a");
    expect(auth.publicKey).toEqual(keyA.publicKey);
    expect(verifyAuth(auth, statement)).toBe(true);
    expect(verifyAuth(auth, authStatement(network, challenge, new Uint8Array(32).fill(7)))).toBe(false); // reflected to the other side
    expect(verifyAuth({ ...auth, publicKey: keyB.publicKey }, statement)).toBe(false);
  });

  it("a sealed frame opens once, in order, unmodified", () => {
    const key = new Uint8Array(32).fill(9);
    const tx = new Sealer(key);
    const rx = new Sealer(key);
    const f0 = tx.seal(3, new Uint8Array([1, 2, 3]));
    const f1 = tx.seal(3, new Uint8Array([4]));
    expect([...rx.open(f0)]).toEqual([3, 1, 2, 3]);
    expect(() => rx.open(f0)).toThrowError(expect.objectContaining({ code: ErrorCode.BAD_MESSAGE })); // replay
    const rx2 = new Sealer(key);
    expect(() => rx2.open(f1)).toThrowError(expect.objectContaining({ code: ErrorCode.BAD_MESSAGE })); // reordered
    const rx3 = new Sealer(key);
    const bent = f0.slice();
    bent[0]! ^= 1;
    expect(() => rx3.open(bent)).toThrowError(expect.objectContaining({ code: ErrorCode.BAD_MESSAGE })); // modified
    expect(() => new Sealer(key).open(f0.subarray(0, f0.length - 1))).toThrowError(
      expect.objectContaining({ code: ErrorCode.BAD_MESSAGE }),
    ); // truncated
    expect(() => new Sealer(key).open(new Uint8Array(3))).toThrowError(
      expect.objectContaining({ code: ErrorCode.BAD_MESSAGE }),
    ); // shorter than a tag
  });

  it("fuzz: HELLO, AUTH and sealed frames from random and mutated bytes are accepted or refused with a code", () => {
    const hello = encodeHello(newEphemeral());
    const auth = encodeAuth("node-1", keyA, authStatement(network, new Uint8Array(32), new Uint8Array(32)));
    const key = new Uint8Array(32).fill(3);
    const sealed = new Sealer(key).seal(3, new Uint8Array(40).fill(1));
    const mutate = (bytes: Uint8Array, edits: [number, number][], cut: number) => {
      const out = bytes.slice();
      for (const [at, x] of edits) out[at % out.length] = x;
      return out.subarray(0, cut % (out.length + 2));
    };
    const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), edits, fc.nat(), (random, e, cut) => {
        for (const bytes of [random, mutate(hello, e, cut)]) {
          const remote = coded(() => decodeHello(bytes), ErrorCode.HANDSHAKE_FAILED) as
            Uint8Array | undefined;
          if (remote !== undefined) {
            expect(remote.length).toBe(HELLO_SIZE - 1);
            coded(() => deriveSession(newEphemeral(), remote, network), ErrorCode.HANDSHAKE_FAILED);
          }
        }
        for (const bytes of [random, mutate(auth, e, cut)])
          coded(() => decodeAuth(bytes), ErrorCode.HANDSHAKE_FAILED);
        const changed = mutate(sealed, e, cut);
        const opened = coded(() => new Sealer(key).open(changed), ErrorCode.BAD_MESSAGE);
        if (opened !== undefined) expect(changed).toEqual(sealed); // only the genuine frame opens
        coded(() => new Sealer(key).open(random), ErrorCode.BAD_MESSAGE);
      }),
      { numRuns: 400, seed: 1407 },
    );
  });
});

describe("fuzz: mutated handshakes against a live transport", () => {
  let b: TcpTransport;
  const errors: Error[] = [];
  beforeAll(async () => {
    b = await TcpTransport.start({
      id: "b",
      key: keyB,
      listen: { host: "127.0.0.1", port: 0 },
      peers: [{ id: "a", publicKey: keyA.publicKey }],
      // Dozens of handshakes a second from one address: this fuzzes the handshake, not the rate.
      connectsPerSecond: 100_000,
      onConnectionError: (e) => errors.push(e),
    });
  });
  afterAll(async () => {
    await b.close();
  });

  /** Plays a's side with one frame (0 HELLO, 1 AUTH, 2 READY, 3 data) mutated; resolves how it ended. */
  function play(target: number, edits: [number, number][]): Promise<"up" | "closed"> {
    return new Promise((resolve) => {
      const s = connect({ host: "127.0.0.1", port: b.address!.port });
      s.on("error", () => {});
      const eph = newEphemeral();
      const dec = new FrameDecoder(1 << 16);
      let index = 0;
      let tx: Sealer | undefined;
      let rx: Sealer | undefined;
      let challenge: Uint8Array | undefined;
      let sentReady = false;
      const send = (body: Uint8Array) => {
        const out = body.slice();
        if (index++ === target) for (const [at, x] of edits) out[at % out.length] = x;
        s.write(encodeFrame(out));
      };
      s.on("connect", () => send(encodeHello(eph)));
      s.on("data", (chunk: Buffer) => {
        try {
          client(chunk);
        } catch {
          s.destroy(); // a's side saw the damage (e.g. b's AUTH under keys from a mutated HELLO)
        }
      });
      const client = (chunk: Buffer) => {
        for (const f of dec.push(new Uint8Array(chunk))) {
          if (tx === undefined) {
            const session = deriveSession(eph, decodeHello(f), network);
            [tx, rx, challenge] = [
              new Sealer(session.sendKey),
              new Sealer(session.receiveKey),
              session.challenge,
            ];
            send(tx.seal(2, encodeAuth("a", keyA, authStatement(network, challenge, eph.publicKey))));
          } else if (!sentReady) {
            rx!.open(f); // b's AUTH; then b's READY follows
            sentReady = true;
            send(tx.seal(4, new Uint8Array(0)));
            send(tx.seal(3, new Uint8Array([42])));
          }
        }
      };
      s.on("close", () => resolve("closed"));
      // a run whose edits changed nothing: b reports a up; end it so every run finishes on an event
      b.setHandler({ onMessage: () => {}, onPeerUp: () => (s.destroy(), resolve("up")) });
    });
  }

  it("b completes the handshake or refuses it with a coded error; it never throws elsewhere", async () => {
    const outcomes: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 2 }),
        async (target, edits) => {
          errors.length = 0;
          outcomes.push(await play(target, edits));
          for (const e of errors) {
            expect(e).toBeInstanceOf(ChainDbError);
            expect([
              ErrorCode.HANDSHAKE_FAILED,
              ErrorCode.BAD_MESSAGE,
              ErrorCode.FRAME_TOO_LARGE,
              ErrorCode.PEER_UNKNOWN,
            ]).toContain((e as ChainDbError).code);
          }
        },
      ),
      { numRuns: 40, seed: 1408 },
    );
    expect(outcomes).toContain("closed");
    expect(b.handshakesPending).toBeLessThanOrEqual(1); // the last run's socket may still be closing
  });
});
