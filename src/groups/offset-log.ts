/**
 * The log the offset store keeps committed offsets in (`__consumer_offsets`): the state logs' port
 * (storage/state-log-port.ts), under the names the offset store and its tests have used.
 */
export type { StateLogPort as OffsetLog, StateLogPartition as OffsetLogPartition } from '../storage/state-log-port.js';
