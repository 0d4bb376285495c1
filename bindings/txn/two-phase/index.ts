/**
 * Two-phase commit across chaindb databases (Gray & Reuter 1993, §10.3) with presumed abort
 * (Mohan, Lindsay & Obermarck, R*, TODS 1986): deterministic {@link Coordinator} and
 * {@link Participant} cores, a runner over any Transport, banks to prepare against, and the
 * seeded simulation that crashes every step.
 * @module
 */
export { Coordinator, COORDINATOR_EPOCH_KEY, type CoordinatorOptions } from "./coordinator.ts";
export {
  Participant,
  PARTICIPANT_PREFIX,
  type ParticipantOptions,
  type TwoPcResource,
} from "./participant.ts";
export { TwoPcRunner, type TwoPcCore, type TwoPcLog, type TwoPcRunnerOptions } from "./runner.ts";
export { LogBank, LedgerBank } from "./resources.ts";
export {
  encodeTwoPcMessage,
  decodeTwoPcMessage,
  TWO_PC_PARTICIPANTS_MAX,
  TWO_PC_OPS_MAX,
  type TwoPcEffect,
  type TwoPcEvent,
  type TwoPcMessage,
  type TwoPcOp,
  type TwoPcTimer,
  type TwoPcWrite,
} from "./types.ts";
export {
  simulateTwoPc,
  twoPcReplayCommand,
  type TwoPcBug,
  type TwoPcSimulationOptions,
  type TwoPcSimulationReport,
} from "./simulate.ts";
export {
  FileTwoPcLog,
  FILE_LOG_COMPACT_RATIO,
  FILE_LOG_COMPACT_MIN_BYTES,
  type FileTwoPcLogOptions,
} from "./file-log.ts";
