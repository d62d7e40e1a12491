import { InvalidArgumentError } from '../core/errors.js';
import type { StartPosition } from '../broker/broker.js';
import type { StartPosition__Output } from '../generated/strata/v1/StartPosition.js';

/**
 * An offset a client sent, in any field (Fetch, Subscribe's start and start_offsets, ListOffsets,
 * ResetOffsets; commits check the same in the offset store): one that no log can ever have (negative,
 * or beyond 2^53) is INVALID_ARGUMENT, the same whichever field carries it. A non-negative offset
 * outside a partition's current range is OFFSET_OUT_OF_RANGE, raised where the log is known. gRPC
 * draws the line the same way: OUT_OF_RANGE is for a value that may become valid as the state changes.
 */
export function offsetFromProto(value: number | null | undefined, field: string): number {
  if (!Number.isSafeInteger(value) || value! < 0) throw new InvalidArgumentError(`${field} must be a non-negative integer, got ${value}`);
  return value!;
}

/** The wire's StartPosition as the broker's; `fallback` when the message or its oneof is unset. */
export function startPositionFromProto(position: StartPosition__Output | null | undefined, fallback: StartPosition): StartPosition {
  switch (position?.position) {
    case 'offset':
      return { offset: offsetFromProto(position.offset, 'offset') };
    case 'timestampMs':
      if (!Number.isSafeInteger(position.timestampMs)) throw new InvalidArgumentError('timestamp_ms must be an integer');
      return { timestampMs: position.timestampMs! };
    case 'point':
      if (position.point === 'START_POINT_EARLIEST') return { point: 'earliest' };
      if (position.point === 'START_POINT_LATEST') return { point: 'latest' };
      return fallback;
    default:
      return fallback;
  }
}
