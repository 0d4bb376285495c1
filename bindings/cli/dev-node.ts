/**
 * What every `chaindb node` mode shares: the development chain (its id, accounts and genesis), the
 * status printer that runs until a signal, and closing what a failed start opened (the HTTP API is
 * http.ts). Apart from node.ts so the consensus node (consensus-node.ts) uses them without importing
 * its dispatcher.
 * @module
 */
import { createHash } from "node:crypto";
import { toHex } from "../util/index.ts";
import { keyPairFromSeed, type KeyPair } from "../chain/index.ts";

/** Chain id of local clusters. */
export const DEV_CHAIN_ID = 0xc4a1;
/** Accounts of the development genesis (deterministic keys, so any tool can sign for them). */
export function devAccounts(count = 16): KeyPair[] {
  return Array.from({ length: count }, (_, i) =>
    keyPairFromSeed(createHash("sha256").update(`chaindb dev account ${i}`).digest()),
  );
}

/** Prints a status line on each change of `key(status)` until SIGINT or SIGTERM. */
export async function runUntilSignal<S extends object>(
  id: string,
  publicKey: Uint8Array,
  http: number,
  status: () => S,
  key: (s: S) => unknown[],
): Promise<void> {
  let last = "";
  const ticker = setInterval(() => {
    const s = status();
    const line = JSON.stringify(key(s));
    if (line !== last) process.stdout.write(JSON.stringify({ event: "status", ...s }) + "\n");
    last = line;
  }, 50);
  process.stdout.write(JSON.stringify({ event: "started", id, publicKey: toHex(publicKey), http }) + "\n");
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  clearInterval(ticker);
}

/** The development genesis: every dev account with 10^12. */
export function devGenesis() {
  return devAccounts().map((k) => ({ address: k.publicKey, balance: 1_000_000_000_000n }));
}

/** Runs `start`; if it fails, runs `cleanup` (closing what was opened before it) and rethrows. */
export async function closeOnFailure<T>(
  start: () => Promise<T>,
  cleanup: () => Promise<unknown>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    await cleanup();
    throw error;
  }
}
