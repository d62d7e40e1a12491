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

/**
 * What a partition does when its unconsumed records (from the slowest group's progress, or the log
 * start when no group reads the topic, to the end) would pass `max.unconsumed.bytes` /
 * `max.unconsumed.records` (consumption-progress.ts): `none` (no limit; the default), `reject` (the
 * produce is refused whole, PARTITION_OVERFLOW, retriable), `drop-oldest` (the log start moves up).
 */
export type OverflowPolicy = 'none' | 'reject' | 'drop-oldest';

/**
 * What the server checks of each produced record's value (and key, with `schema.key.validation`)
 * against the schema registry (server/record-schema-check.ts): `none` (default), `id` (Confluent
 * framing naming a schema registered under the topic's subject), `full` (and the payload decodes).
 */
export type SchemaValidation = 'none' | 'id' | 'full';

/**
 * Which subject a validated record's schema id must be a live version of (Confluent's subject name
 * strategies): `topic` (TopicNameStrategy, default: `<topic>-value` / `<topic>-key`), `record`
 * (RecordNameStrategy: the record name of the id's schema), `topic-record` (`<topic>-<record name>`).
 */
export type SchemaSubjectStrategy = 'topic' | 'record' | 'topic-record';

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
  /** Closed segments every group reading the topic has consumed are deleted too (topics no group reads keep theirs). */
  retentionAfterAck: boolean;
  /** -1: no limit. Approximate: counted in whole batches, up to one index interval more. */
  maxUnconsumedBytes: number;
  /** -1: no limit. */
  maxUnconsumedRecords: number;
  overflowPolicy: OverflowPolicy;
  /**
   * `dedupe.window.ms`: a record whose `strata-message-id` was appended to its partition within this
   * many ms is not written again (broker/message-id-index.ts). 0 (default): off.
   */
  dedupeWindowMs: number;
  /** `schema.validation`: see SchemaValidation. */
  schemaValidation: SchemaValidation;
  /** `schema.key.validation`: keys are checked too, against `<topic>-key` (when schemaValidation is not none). */
  schemaKeyValidation: boolean;
  /** `schema.subject.strategy`: see SchemaSubjectStrategy (for values and keys alike). */
  schemaSubjectStrategy: SchemaSubjectStrategy;
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
  retentionAfterAck: false,
  maxUnconsumedBytes: -1,
  maxUnconsumedRecords: -1,
  overflowPolicy: 'none',
  dedupeWindowMs: 0,
  schemaValidation: 'none',
  schemaKeyValidation: false,
  schemaSubjectStrategy: 'topic',
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
  'retention.after.ack': {
    field: 'retentionAfterAck',
    parse: (raw: string, key: string) => {
      if (raw === 'true' || raw === 'false') return raw === 'true';
      throw new InvalidConfigError(`${key} must be true or false, got '${raw}'`);
    },
  },
  'max.unconsumed.bytes': { field: 'maxUnconsumedBytes', parse: integerIn(1, Number.MAX_SAFE_INTEGER, true) },
  'max.unconsumed.records': { field: 'maxUnconsumedRecords', parse: integerIn(1, Number.MAX_SAFE_INTEGER, true) },
  overflow: {
    field: 'overflowPolicy',
    parse: (raw: string, key: string) => {
      if (raw === 'none' || raw === 'reject' || raw === 'drop-oldest') return raw;
      throw new InvalidConfigError(`${key} must be one of reject, drop-oldest, none; got '${raw}'`);
    },
  },
  'dedupe.window.ms': { field: 'dedupeWindowMs', parse: integerIn(0, MAX_DEDUPE_WINDOW_MS) },
  'schema.validation': {
    field: 'schemaValidation',
    parse: (raw: string, key: string) => {
      if (raw === 'none' || raw === 'id' || raw === 'full') return raw;
      throw new InvalidConfigError(`${key} must be one of none, id, full; got '${raw}'`);
    },
  },
  'schema.key.validation': {
    field: 'schemaKeyValidation',
    parse: (raw: string, key: string) => {
      if (raw === 'true' || raw === 'false') return raw === 'true';
      throw new InvalidConfigError(`${key} must be true or false, got '${raw}'`);
    },
  },
  'schema.subject.strategy': {
    field: 'schemaSubjectStrategy',
    parse: (raw: string, key: string) => {
      if (raw === 'topic' || raw === 'record' || raw === 'topic-record') return raw;
      throw new InvalidConfigError(`${key} must be one of topic, record, topic-record; got '${raw}'`);
    },
  },
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
  checkOverflowConfig(config);
  return config;
}

/**
 * A max of unconsumed records or bytes needs an overflow policy, and a policy needs a max: there is
 * no default policy (refusing producers and dropping records are both surprises nobody should get
 * without asking), and a policy without a limit would do nothing.
 */
function checkOverflowConfig(config: TopicConfig): void {
  const hasMax = config.maxUnconsumedBytes !== -1 || config.maxUnconsumedRecords !== -1;
  if (hasMax && config.overflowPolicy === 'none') {
    throw new InvalidConfigError('max.unconsumed.bytes / max.unconsumed.records need overflow=reject or overflow=drop-oldest (there is no default policy)');
  }
  if (!hasMax && config.overflowPolicy !== 'none') {
    throw new InvalidConfigError(`overflow=${config.overflowPolicy} needs max.unconsumed.bytes or max.unconsumed.records`);
  }
}
