import { InvalidConfigError } from '../core/errors.js';
import { DEFAULT_MAX_BATCH_BYTES, MAX_BATCH_BYTES_LIMIT, MAX_DEDUPE_WINDOW_MS, MAX_SEGMENT_BYTES } from '../core/limits.js';

/**
 * Per-topic configuration, with Kafka's key names where Kafka has one.
 *
 * What an acknowledged append promises under each `flush` policy (a single node has no replica, so the
 * disk is the only copy):
 * - `always` (default): the append is acknowledged only after fdatasync of every byte it wrote; it
 *   survives a process crash, a kernel crash and a power loss. Consumers see a record only once it is
 *   durable. Appends arriving during one fsync share the next one (group commit).
 * - `interval`: acknowledged once written to the file (the page cache); it survives a crash of the
 *   process but a kernel crash or power loss can lose up to `flush.ms` of acknowledged appends, plus
 *   the time its fsync waits behind other partitions' (the timer fsyncs run one at a time,
 *   interval-flusher.ts). The acknowledgement says `written`, not `durable`, so the client knows the
 *   window is open.
 * - `never`: like `interval` without the timer: the OS writes back when it chooses (and at every
 *   segment roll and clean shutdown).
 * An append may always ask for `durable` explicitly; it then waits for an fsync under any policy.
 */
export type FlushPolicy = 'always' | 'interval' | 'never';

export interface TopicConfig {
  segmentBytes: number;
  segmentMs: number;
  indexIntervalBytes: number;
  flushPolicy: FlushPolicy;
  flushMs: number;
  /** -1: keep forever. */
  retentionMs: number;
  /** -1: no size limit. */
  retentionBytes: number;
  maxBatchBytes: number;
  /**
   * `dedupe.window.ms`: a record whose `strata-message-id` was appended to its partition within this
   * many ms is not written again (broker/message-id-index.ts). 0 (default): off.
   */
  dedupeWindowMs: number;
}

export const DEFAULT_TOPIC_CONFIG: Readonly<TopicConfig> = Object.freeze({
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  flushPolicy: 'always',
  flushMs: 1000,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
  dedupeWindowMs: 0,
});

interface KeySpec {
  field: keyof TopicConfig;
  parse: (raw: string, key: string) => TopicConfig[keyof TopicConfig];
}

function integerIn(min: number, max: number, allowMinusOne = false) {
  return (raw: string, key: string): number => {
    const value = Number(raw);
    const isValid = /^-?\d+$/.test(raw.trim()) && Number.isSafeInteger(value);
    if (isValid && allowMinusOne && value === -1) return value;
    if (!isValid || value < min || value > max) {
      const also = allowMinusOne ? ' or -1 for unlimited' : '';
      throw new InvalidConfigError(`${key} must be an integer in [${min}, ${max}]${also}, got '${raw}'`);
    }
    return value;
  };
}

/** The configuration keys, Kafka-style, as a user writes them (`--config retention.ms=60000`). */
export const TOPIC_CONFIG_KEYS: Readonly<Record<string, KeySpec>> = Object.freeze({
  'segment.bytes': { field: 'segmentBytes', parse: integerIn(1024, MAX_SEGMENT_BYTES) },
  'segment.ms': { field: 'segmentMs', parse: integerIn(1, Number.MAX_SAFE_INTEGER) },
  'index.interval.bytes': { field: 'indexIntervalBytes', parse: integerIn(0, MAX_SEGMENT_BYTES) },
  flush: {
    field: 'flushPolicy',
    parse: (raw: string, key: string) => {
      if (raw === 'always' || raw === 'interval' || raw === 'never') return raw;
      throw new InvalidConfigError(`${key} must be one of always, interval, never; got '${raw}'`);
    },
  },
  'flush.ms': { field: 'flushMs', parse: integerIn(1, 24 * 60 * 60 * 1000) },
  'retention.ms': { field: 'retentionMs', parse: integerIn(0, Number.MAX_SAFE_INTEGER, true) },
  'retention.bytes': { field: 'retentionBytes', parse: integerIn(0, Number.MAX_SAFE_INTEGER, true) },
  'max.message.bytes': { field: 'maxBatchBytes', parse: integerIn(64, MAX_BATCH_BYTES_LIMIT) },
  'dedupe.window.ms': { field: 'dedupeWindowMs', parse: integerIn(0, MAX_DEDUPE_WINDOW_MS) },
});

/**
 * Validates overrides (`{'retention.ms': '60000'}`) and applies them on top of the defaults. Unknown
 * keys and bad values throw InvalidConfigError naming the key; nothing is partially applied.
 */
export function resolveTopicConfig(overrides: Readonly<Record<string, string>>): TopicConfig {
  const config: TopicConfig = { ...DEFAULT_TOPIC_CONFIG };
  for (const [key, raw] of Object.entries(overrides)) {
    // Own keys only: 'constructor' or '__proto__' must be unknown keys, not Object.prototype members.
    const spec = Object.hasOwn(TOPIC_CONFIG_KEYS, key) ? TOPIC_CONFIG_KEYS[key] : undefined;
    if (!spec) {
      const known = Object.keys(TOPIC_CONFIG_KEYS).join(', ');
      throw new InvalidConfigError(`unknown topic config '${key}' (known: ${known})`);
    }
    (config as unknown as Record<string, unknown>)[spec.field] = spec.parse(String(raw), key);
  }
  return config;
}
