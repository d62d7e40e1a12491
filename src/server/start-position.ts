import { InvalidArgumentError } from '../core/errors.js';
import type { StartPosition } from '../broker/broker.js';
import type { StartPosition__Output } from '../generated/strata/v1/StartPosition.js';

/** The wire's StartPosition as the broker's; `fallback` when the message or its oneof is unset. */
export function startPositionFromProto(position: StartPosition__Output | null | undefined, fallback: StartPosition): StartPosition {
  switch (position?.position) {
    case 'offset':
      if (!Number.isSafeInteger(position.offset) || position.offset! < 0) throw new InvalidArgumentError(`offset must be a non-negative integer, got ${position.offset}`);
      return { offset: position.offset! };
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
