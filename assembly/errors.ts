/**
 * Error messages shared by the WebAssembly core, one constant each (the style of AssemblyScript's
 * own `std/assembly/util/error.ts`). They are static strings: raising one never touches the heap.
 * @module
 */

// @ts-ignore: decorator
@lazy @inline
export const E_INPUT_TOO_LONG: string = "input longer than the static input buffer";

// @ts-ignore: decorator
@lazy @inline
export const E_MANY_TOO_LONG: string = "these messages and their digests do not fit the input buffer";
