import type { QueueGroupConfig } from './queue-group-config.js';

/**
 * The delay before a released or expired record may be handed out again, after its `deliveryCount`-th
 * delivery: min(backoffMaxMs, backoffBaseMs * backoffFactor^(deliveryCount - 1)), times a uniform
 * factor in [1 - backoffJitter, 1 + backoffJitter] so that records failing together do not all come
 * back in the same millisecond. `random` is injected (SeededRandom in tests). Whole milliseconds.
 */
export function retryBackoffMs(
  config: Pick<QueueGroupConfig, 'backoffBaseMs' | 'backoffFactor' | 'backoffMaxMs' | 'backoffJitter'>,
  deliveryCount: number,
  random: { next(): number },
): number {
  const exponent = Math.max(0, deliveryCount - 1);
  // The power overflows to Infinity for large counts; min() takes the maximum then.
  const unjitteredMs = Math.min(config.backoffMaxMs, config.backoffBaseMs * config.backoffFactor ** exponent);
  const factor = 1 - config.backoffJitter + 2 * config.backoffJitter * random.next();
  return Math.round(unjitteredMs * factor);
}
