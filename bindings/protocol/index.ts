/**
 * The protocol driver every deterministic core runs under (consensus, replication, 2PC): a
 * bounded inbox, effects in order with persists awaited before later sends, explicit idle, failed
 * and stopped states, and a crash hook between effects. See driver.ts.
 * @module
 */
export {
  DEFAULT_DRIVER_LIMITS,
  ProtocolDriver,
  type DriverLimits,
  type DriverOptions,
  type DriverState,
  type MaybePromise,
} from "./driver.ts";
