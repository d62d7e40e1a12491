import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidConfigError, InvalidTopicNameError } from '../../src/core/errors.js';
import { MAX_BATCH_BYTES_LIMIT, MAX_DEDUPE_WINDOW_MS, MAX_PARTITIONS, MAX_SEGMENT_BYTES, MAX_TOPIC_NAME_LENGTH, MIN_PARTITIONS } from '../../src/core/limits.js';
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig, TOPIC_CONFIG_KEYS } from '../../src/storage/topic-config.js';
import { validatePartitionCount, validateTopicName } from '../../src/storage/topic-name.js';

const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

function configError(overrides: Record<string, string>): InvalidConfigError {
  try {
    resolveTopicConfig(overrides);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).code).toBe('INVALID_CONFIG');
    expect((error as InvalidConfigError).retriable).toBe(false);
    return error as InvalidConfigError;
  }
  throw new Error(`resolveTopicConfig(${JSON.stringify(overrides)}) did not throw`);
}

describe('topic config defaults', () => {
  it('pins every default', () => {
    expect(resolveTopicConfig({})).toEqual({
      segmentBytes: GIB,
      segmentMs: 7 * DAY_MS,
      indexIntervalBytes: 4096,
      flushPolicy: 'always',
      flushMs: 1000,
      retentionMs: 7 * DAY_MS,
      retentionBytes: -1,
      maxBatchBytes: MIB,
      retentionAfterAck: false,
      maxUnconsumedBytes: -1,
      maxUnconsumedRecords: -1,
      overflowPolicy: 'none',
      dedupeWindowMs: 0,
      schemaValidation: 'none',
      schemaKeyValidation: false,
      schemaSubjectStrategy: 'topic',
    });
    expect(DEFAULT_TOPIC_CONFIG).toEqual(resolveTopicConfig({}));
  });

  it('pins the Kafka-style key names', () => {
    expect(Object.keys(TOPIC_CONFIG_KEYS).sort()).toEqual(
      ['dedupe.window.ms', 'flush', 'flush.ms', 'index.interval.bytes', 'max.message.bytes', 'retention.bytes', 'retention.ms', 'segment.bytes', 'segment.ms',
        'retention.after.ack', 'max.unconsumed.bytes', 'max.unconsumed.records', 'overflow', 'schema.validation', 'schema.key.validation', 'schema.subject.strategy'].sort(),
    );
  });

  it('returns a fresh object: changing it does not change the defaults', () => {
    const config = resolveTopicConfig({ 'retention.ms': '5' });
    config.segmentBytes = 1;
    expect(DEFAULT_TOPIC_CONFIG.segmentBytes).toBe(GIB);
    expect(DEFAULT_TOPIC_CONFIG.retentionMs).toBe(7 * DAY_MS);
    expect(resolveTopicConfig({}).segmentBytes).toBe(GIB);
    expect(Object.isFrozen(DEFAULT_TOPIC_CONFIG)).toBe(true);
  });
});

describe('topic config overrides', () => {
  it('applies valid overrides of every key, leaving the others at their defaults', () => {
    expect(
      resolveTopicConfig({
        'segment.bytes': '1024',
        'segment.ms': '60000',
        'index.interval.bytes': '0',
        flush: 'interval',
        'flush.ms': '250',
        'retention.ms': '-1',
        'retention.bytes': '1048576',
        'max.message.bytes': '64',
        'retention.after.ack': 'true',
        'max.unconsumed.bytes': '4096',
        'max.unconsumed.records': '100',
        overflow: 'drop-oldest',
        'dedupe.window.ms': '120000',
        'schema.validation': 'full',
        'schema.key.validation': 'true',
        'schema.subject.strategy': 'topic-record',
      }),
    ).toEqual({
      segmentBytes: 1024,
      segmentMs: 60_000,
      indexIntervalBytes: 0,
      flushPolicy: 'interval',
      flushMs: 250,
      retentionMs: -1,
      retentionBytes: 1_048_576,
      maxBatchBytes: 64,
      retentionAfterAck: true,
      maxUnconsumedBytes: 4096,
      maxUnconsumedRecords: 100,
      overflowPolicy: 'drop-oldest',
      dedupeWindowMs: 120_000,
      schemaValidation: 'full',
      schemaKeyValidation: true,
      schemaSubjectStrategy: 'topic-record',
    });
    expect(resolveTopicConfig({ 'retention.bytes': '-1' }).retentionBytes).toBe(-1);
    expect(resolveTopicConfig({ flush: 'never' }).flushPolicy).toBe('never');
    expect(resolveTopicConfig({ 'retention.ms': '0' }).retentionMs).toBe(0);
    expect(resolveTopicConfig({ 'retention.ms': '60000' })).toEqual({ ...DEFAULT_TOPIC_CONFIG, retentionMs: 60_000 });
  });

  it('takes schema.validation none, id or full and schema.key.validation true or false, refusing anything else', () => {
    expect(resolveTopicConfig({ 'schema.validation': 'id' }).schemaValidation).toBe('id');
    expect(resolveTopicConfig({ 'schema.validation': 'none' }).schemaValidation).toBe('none');
    expect(configError({ 'schema.validation': 'ID' }).message).toBe("schema.validation must be one of none, id, full; got 'ID'");
    expect(configError({ 'schema.validation': '' }).message).toContain('schema.validation');
    expect(configError({ 'schema.key.validation': 'yes' }).message).toBe("schema.key.validation must be true or false, got 'yes'");
    expect(resolveTopicConfig({ 'schema.subject.strategy': 'record' }).schemaSubjectStrategy).toBe('record');
    expect(configError({ 'schema.subject.strategy': 'RecordNameStrategy' }).message).toBe("schema.subject.strategy must be one of topic, record, topic-record; got 'RecordNameStrategy'");
  });

  it('bounds dedupe.window.ms at 7 days', () => {
    expect(MAX_DEDUPE_WINDOW_MS).toBe(7 * DAY_MS);
    expect(configError({ 'dedupe.window.ms': String(7 * DAY_MS + 1) }).message).toContain('dedupe.window.ms');
  });

  it('accepts each bound and rejects one past it', () => {
    const bounds: Array<[string, number, number]> = [
      ['segment.bytes', 1024, MAX_SEGMENT_BYTES],
      ['segment.ms', 1, Number.MAX_SAFE_INTEGER],
      ['index.interval.bytes', 0, MAX_SEGMENT_BYTES],
      ['flush.ms', 1, DAY_MS],
      ['retention.ms', 0, Number.MAX_SAFE_INTEGER],
      ['retention.bytes', 0, Number.MAX_SAFE_INTEGER],
      ['max.message.bytes', 64, MAX_BATCH_BYTES_LIMIT],
      ['dedupe.window.ms', 0, MAX_DEDUPE_WINDOW_MS],
    ];
    for (const [key, min, max] of bounds) {
      const field = TOPIC_CONFIG_KEYS[key]!.field;
      expect(resolveTopicConfig({ [key]: String(min) })[field], `${key}=${min}`).toBe(min);
      expect(resolveTopicConfig({ [key]: String(max) })[field], `${key}=${max}`).toBe(max);
      // -1 means "unlimited" only for the two retention keys.
      if (!key.startsWith('retention.')) expect(configError({ [key]: String(min - 1) }).message).toContain(key);
      const above = max === Number.MAX_SAFE_INTEGER ? '9007199254740993' : String(max + 1);
      expect(configError({ [key]: above }).message, `${key}=${above}`).toContain(key);
    }
    expect(configError({ 'retention.ms': '-2' }).message).toContain('retention.ms');
    expect(configError({ 'retention.bytes': '-2' }).message).toContain('retention.bytes');
  });

  it('rejects values that are not plain decimal integers, naming the key', () => {
    for (const raw of ['', ' ', 'abc', '1.5', '1e3', '0x10', '10ms', 'NaN', 'Infinity', '--1', '1_000', '١٠٠']) {
      expect(configError({ 'segment.ms': raw }).message, `segment.ms='${raw}'`).toContain('segment.ms');
    }
  });

  it('rejects an unknown flush policy', () => {
    for (const raw of ['ALWAYS', 'sometimes', '', ' always']) expect(configError({ flush: raw }).message).toContain('flush');
  });

  it('rejects unknown keys with InvalidConfigError naming the key', () => {
    for (const key of ['retention.msx', 'segment_bytes', 'Retention.ms', '', 'cleanup.policy']) {
      expect(configError({ [key]: '1' }).message, `key '${key}'`).toContain(`'${key}'`);
    }
  });

  it('rejects keys that only exist on Object.prototype as unknown keys, not with a TypeError', () => {
    for (const key of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__']) {
      // A computed key makes '__proto__' an own property, as JSON.parse of a topic.json would.
      expect(configError({ [key]: '1' }).message, `key '${key}'`).toContain('unknown topic config');
    }
    expect(configError(JSON.parse('{"__proto__": "1"}') as Record<string, string>).message).toContain('unknown topic config');
  });

  it('applies nothing when any override is bad (all or nothing)', () => {
    // The error is thrown before a config is returned, and a later good call sees only defaults.
    configError({ 'segment.bytes': '2048', 'retention.ms': 'bad' });
    expect(resolveTopicConfig({})).toEqual(DEFAULT_TOPIC_CONFIG);
  });
});

describe('topic names', () => {
  const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-';

  it('accepts any name of 1..249 characters from [a-zA-Z0-9._-], except . and ..', () => {
    const validName = fc
      .array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: MAX_TOPIC_NAME_LENGTH })
      .map((chars) => chars.join(''))
      .filter((name) => name !== '.' && name !== '..');
    fc.assert(fc.property(validName, (name) => void validateTopicName(name)), { numRuns: 500 });
  });

  it('rejects any name holding a character outside the alphabet', () => {
    const bad = fc
      .tuple(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), fc.string({ maxLength: 20 }))
      .filter(([, middle]) => [...middle].some((c) => !ALPHABET.includes(c)))
      .map(([a, b, c]) => a + b + c)
      .filter((name) => name.length <= MAX_TOPIC_NAME_LENGTH);
    fc.assert(
      fc.property(bad, (name) => {
        expect(() => validateTopicName(name)).toThrow(InvalidTopicNameError);
      }),
      { numRuns: 500 },
    );
  });

  it('takes 249 characters and rejects 250', () => {
    expect(MAX_TOPIC_NAME_LENGTH).toBe(249);
    expect(() => validateTopicName('a'.repeat(249))).not.toThrow();
    expect(() => validateTopicName('a'.repeat(250))).toThrow(InvalidTopicNameError);
    expect(() => validateTopicName('.'.repeat(250))).toThrow(InvalidTopicNameError);
  });

  it('rejects the empty name, . and .., separators, spaces, unicode and control characters', () => {
    const bad = ['', '.', '..', 'a/b', '/', '../x', 'a\\b', 'a b', ' a', 'a ', 'café', 'тема', '主题', 'ｏｒｄｅｒｓ', 'emoji😀', 'a\nb', 'abc\n', '\nabc', 'a\u0000b', 'a:b', 'a*', 'a~creating-1', '@lock'];
    for (const name of bad) {
      expect(() => validateTopicName(name), JSON.stringify(name)).toThrow(InvalidTopicNameError);
    }
  });

  it('rejects values that are not strings', () => {
    for (const value of [undefined, null, 5, {}, ['a'], Symbol('a')]) {
      expect(() => validateTopicName(value), String(value)).toThrow(InvalidTopicNameError);
    }
  });

  it('accepts names made only of dots other than . and .., and the edge characters', () => {
    for (const name of ['...', '_', '-', 'a.b_c-D9', '0']) expect(() => validateTopicName(name), name).not.toThrow();
  });

  it('throws an error with a literal code, not retriable', () => {
    try {
      validateTopicName('a b');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidTopicNameError);
      expect((error as InvalidTopicNameError).code).toBe('INVALID_TOPIC_NAME');
      expect((error as InvalidTopicNameError).retriable).toBe(false);
    }
  });
});

describe('partition counts', () => {
  it('accepts every integer in 1..10000', () => {
    expect([MIN_PARTITIONS, MAX_PARTITIONS]).toEqual([1, 10_000]);
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), (count) => void validatePartitionCount(count)));
    expect(() => validatePartitionCount(1)).not.toThrow();
    expect(() => validatePartitionCount(10_000)).not.toThrow();
  });

  it('rejects counts outside 1..10000 and non-integers with InvalidArgumentError', () => {
    for (const count of [0, -1, 10_001, 1.5, 0.5, NaN, Infinity, -Infinity, '3', null, undefined, 2n, [1]]) {
      expect(() => validatePartitionCount(count), String(count)).toThrow(InvalidArgumentError);
    }
    fc.assert(
      fc.property(fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 10_001 }), fc.double().filter((d) => !Number.isInteger(d))), (count) => {
        expect(() => validatePartitionCount(count)).toThrow(InvalidArgumentError);
      }),
    );
  });
});

describe('retention per use and overflow keys', () => {
  it('parses retention.after.ack, the unconsumed maxima and the overflow policy', () => {
    expect(resolveTopicConfig({ 'retention.after.ack': 'true' }).retentionAfterAck).toBe(true);
    expect(resolveTopicConfig({ 'retention.after.ack': 'false' }).retentionAfterAck).toBe(false);
    expect(resolveTopicConfig({ 'max.unconsumed.records': '1000', overflow: 'reject' })).toMatchObject({ maxUnconsumedRecords: 1000, maxUnconsumedBytes: -1, overflowPolicy: 'reject' });
    expect(resolveTopicConfig({ 'max.unconsumed.bytes': '1048576', overflow: 'drop-oldest' })).toMatchObject({ maxUnconsumedBytes: MIB, overflowPolicy: 'drop-oldest' });
    expect(resolveTopicConfig({ 'max.unconsumed.bytes': '-1', 'max.unconsumed.records': '-1', overflow: 'none' })).toMatchObject({ overflowPolicy: 'none' });
  });

  it('refuses a max without an overflow policy, and a policy without a max (there is no default policy)', () => {
    expect(configError({ 'max.unconsumed.records': '10' }).message).toMatch(/need overflow=reject or overflow=drop-oldest/);
    expect(configError({ 'max.unconsumed.bytes': '10', overflow: 'none' }).message).toMatch(/no default policy/);
    expect(configError({ overflow: 'reject' }).message).toMatch(/overflow=reject needs max.unconsumed.bytes or max.unconsumed.records/);
    expect(configError({ overflow: 'drop-oldest', 'max.unconsumed.records': '-1' }).message).toMatch(/needs max.unconsumed/);
  });

  it('refuses bad values, naming the key', () => {
    expect(configError({ overflow: 'foo', 'max.unconsumed.records': '1' }).message).toMatch(/overflow must be one of reject, drop-oldest, none; got 'foo'/);
    expect(configError({ 'max.unconsumed.records': '-5', overflow: 'reject' }).message).toMatch(/max.unconsumed.records must be an integer/);
    expect(configError({ 'max.unconsumed.records': '0', overflow: 'reject' }).message).toMatch(/max.unconsumed.records/);
    expect(configError({ 'max.unconsumed.bytes': '1.5', overflow: 'reject' }).message).toMatch(/max.unconsumed.bytes/);
    expect(configError({ 'retention.after.ack': 'yes' }).message).toMatch(/retention.after.ack must be true or false/);
  });
});
