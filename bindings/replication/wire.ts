/**
 * Wire form of replica messages over the net codec, with a strict shape check on decode: a
 * malformed message from a peer is dropped, never trusted.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { decodeMessage, encodeMessage, type MessageValue } from "../net/index.ts";
import type { Entry, ReplicaMessage } from "./types.ts";

/** Encodes a replica message. */
export function encodeReplicaMessage(m: ReplicaMessage): Uint8Array {
  return encodeMessage(m as unknown as MessageValue);
}

const isHeight = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Decodes and checks a replica message; throws `BAD_MESSAGE`. */
export function decodeReplicaMessage(bytes: Uint8Array): ReplicaMessage {
  const v = decodeMessage(bytes) as Record<string, unknown> | null;
  const bad = (why: string) => new ChainDbError(ErrorCode.BAD_MESSAGE, `bad replica message: ${why}`);
  if (v === null || typeof v !== "object" || !isHeight(v.epoch)) throw bad("no epoch");
  switch (v.t) {
    case "append": {
      if (!isHeight(v.prevHeight) || !isHeight(v.prevEpoch) || !isHeight(v.commit) || !Array.isArray(v.entries)) throw bad("append fields");
      const entries = (v.entries as unknown[]).map((e): Entry => {
        const o = e as Record<string, unknown>;
        if (o === null || typeof o !== "object" || !isHeight(o.epoch) || !(o.proposer instanceof Uint8Array) || o.proposer.length !== 32) throw bad("entry");
        if (!(o.transfers instanceof Uint8Array) || o.transfers.length % 157 !== 0) throw bad("entry transfers");
        return { epoch: o.epoch, proposer: o.proposer, transfers: o.transfers };
      });
      return { t: "append", epoch: v.epoch, prevHeight: v.prevHeight, prevEpoch: v.prevEpoch, commit: v.commit, entries };
    }
    case "appendReply":
      if (typeof v.ok !== "boolean" || !isHeight(v.height)) throw bad("appendReply fields");
      return { t: "appendReply", epoch: v.epoch, ok: v.ok, height: v.height };
    case "vote":
      if (!isHeight(v.lastHeight) || !isHeight(v.lastEpoch)) throw bad("vote fields");
      return { t: "vote", epoch: v.epoch, lastHeight: v.lastHeight, lastEpoch: v.lastEpoch };
    case "voteReply":
      if (typeof v.granted !== "boolean") throw bad("voteReply fields");
      return { t: "voteReply", epoch: v.epoch, granted: v.granted };
    default:
      throw bad(`unknown type ${String(v.t)}`);
  }
}
