/**
 * The static input/output buffers through which JavaScript talks to the core. They live in the
 * module's static data (below `__heap_base`), so the heap above belongs to whoever allocates there.
 * @module
 */

/** Size of the input buffer in bytes: JS feeds longer messages in chunks of at most this size. */
// @ts-ignore: decorator
@inline export const INPUT_SIZE: usize = 65536;

/** The input buffer: JS writes messages, headers, targets and leaves here. */
export const INPUT: usize = memory.data(<i32>INPUT_SIZE, 16);

/** The output buffer: digests (up to four, 128 bytes) and merkle roots are written here. */
export const OUTPUT: usize = memory.data(128, 16);

/** Address of the input buffer. */
export function inputPtr(): usize {
  return INPUT;
}

/** Size of the input buffer in bytes. */
export function inputSize(): usize {
  return INPUT_SIZE;
}

/** Address of the output buffer (128 bytes). */
export function outputPtr(): usize {
  return OUTPUT;
}

/**
 * Grows linear memory by `pages` (test-only: lets the JS tests check that the binding re-creates
 * its views of memory after another part of the core grew it). Returns the previous size in pages.
 */
export function growMemoryForTest(pages: i32): i32 {
  return memory.grow(pages);
}
