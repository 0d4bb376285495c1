/**
 * The engine names, in a module of their own: the store and state interfaces name their engine,
 * and the `Engine` interface creates stores and states, so neither can import the other's file.
 * @module
 */

/** Names of the available engines. */
export type EngineName = "wasm" | "ts";
