import { InvalidConfigError } from '../core/errors.js';

/**
 * Group settings live on the server (as in KIP-848), so operators tune them in one place.
 */
export interface GroupConfig {
  /** A member that sends no heartbeat for this long is removed and its partitions move. */
  sessionTimeoutMs: number;
  /** How often members heartbeat (told to them in every response). */
  heartbeatIntervalMs: number;
  /** A member that has not asked for records for this long is stuck: it is removed. */
  processingTimeoutMs: number;
  /** How long a member may take to let go of a revoked partition before it is removed. */
  revocationTimeoutMs: number;
  /** Membership changes of a new group are gathered for this long before the first assignment. */
  initialRebalanceDelayMs: number;
  /** Later changes are gathered for this long; the assignment is recomputed at most once per window. */
  rebalanceDelayMs: number;
  /**
   * While members keep joining and dying (a crash loop), the window doubles per join that did not
   * stick, up to this bound; it shrinks again as those joins age out.
   */
  maxRebalanceDelayMs: number;
  /**
   * A dynamic member whose heartbeat stream broke and was not reopened for this long is removed (its
   * process most likely died); capped by the session timeout. Static members keep the session timeout.
   */
  streamLostGraceMs: number;
}

export const DEFAULT_GROUP_CONFIG: Readonly<GroupConfig> = Object.freeze({
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 3_000,
  processingTimeoutMs: 5 * 60_000,
  revocationTimeoutMs: 60_000,
  initialRebalanceDelayMs: 3_000,
  rebalanceDelayMs: 300,
  maxRebalanceDelayMs: 5_000,
  streamLostGraceMs: 2_000,
});

export function resolveGroupConfig(overrides: Partial<GroupConfig> = {}): GroupConfig {
  const config = { ...DEFAULT_GROUP_CONFIG, ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (!Number.isInteger(value) || value < 0) throw new InvalidConfigError(`${key} must be a non-negative integer, got ${String(value)}`);
  }
  if (config.heartbeatIntervalMs >= config.sessionTimeoutMs) {
    throw new InvalidConfigError(`heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be below sessionTimeoutMs (${config.sessionTimeoutMs})`);
  }
  return config;
}
