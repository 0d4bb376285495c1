/**
 * Exit status of a `chaindb` command: 0 ok, 1 failure, 2 bad input. Apart from main.ts so that
 * the commands main.ts dispatches to name it without importing their dispatcher.
 * @module
 */

/** Exit status of a command. */
export type ExitCode = 0 | 1 | 2;
