import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/core/errors.js';
import { DEFAULT_MAX_BATCH_BYTES, MAX_BATCH_BYTES_LIMIT, REQUEST_FIELDS_BYTES } from '../../src/core/limits.js';
import { DEFAULT_TOPIC_CONFIG } from '../../src/storage/topic-config.js';
import { DEFAULT_SERVER_CONFIG, largestAcceptedBatchBytes, resolveServerConfig, streamReservedBytes } from '../../src/server/server-config.js';
import { quotaDefaultsFromFlags, withQuotaFlags } from '../../src/cli/serve-command.js';

describe('server config: the request limit and the batch limits of topics', () => {
  it('by default receives a default topic largest batch plus the request fields', () => {
    expect(DEFAULT_TOPIC_CONFIG.maxBatchBytes).toBe(DEFAULT_MAX_BATCH_BYTES);
    expect(largestAcceptedBatchBytes(DEFAULT_SERVER_CONFIG)).toBe(DEFAULT_TOPIC_CONFIG.maxBatchBytes);
    expect(DEFAULT_SERVER_CONFIG.maxRequestBytes).toBe(DEFAULT_MAX_BATCH_BYTES + REQUEST_FIELDS_BYTES);
  });

  it('may be raised up to the largest batch any topic may have, never lowered below the default', () => {
    expect(resolveServerConfig({ maxRequestBytes: MAX_BATCH_BYTES_LIMIT + REQUEST_FIELDS_BYTES }).maxRequestBytes).toBe(MAX_BATCH_BYTES_LIMIT + REQUEST_FIELDS_BYTES);
    for (const maxRequestBytes of [1024, DEFAULT_SERVER_CONFIG.maxRequestBytes - 1, MAX_BATCH_BYTES_LIMIT + REQUEST_FIELDS_BYTES + 1]) {
      expect(() => resolveServerConfig({ maxRequestBytes }), String(maxRequestBytes)).toThrow(InvalidConfigError);
    }
  });
});

describe('server config: the memory budget and the per-address caps', () => {
  it('defaults to a 512 MiB budget, 64 connections and 4,096 calls per address', () => {
    expect(DEFAULT_SERVER_CONFIG).toMatchObject({ memoryBudgetBytes: 512 * 1024 * 1024, maxConnectionsPerAddress: 64, maxStreamsPerAddress: 4_096 });
    expect(resolveServerConfig({}).memoryBudgetBytes).toBe(512 * 1024 * 1024);
  });

  it('refuses a budget that cannot admit four calls, and caps below one', () => {
    const fourCalls = 4 * streamReservedBytes(DEFAULT_SERVER_CONFIG);
    expect(resolveServerConfig({ memoryBudgetBytes: fourCalls }).memoryBudgetBytes).toBe(fourCalls);
    expect(() => resolveServerConfig({ memoryBudgetBytes: fourCalls - 1 })).toThrow(/memoryBudgetBytes must hold at least 4/);
    // A larger request limit raises every call's reservation, and so the smallest budget.
    expect(() => resolveServerConfig({ maxRequestBytes: MAX_BATCH_BYTES_LIMIT + REQUEST_FIELDS_BYTES, memoryBudgetBytes: 128 * 1024 * 1024 })).toThrow(InvalidConfigError);
    expect(() => resolveServerConfig({ maxConnectionsPerAddress: 0 })).toThrow(InvalidConfigError);
    expect(() => resolveServerConfig({ maxStreamsPerAddress: 0 })).toThrow(InvalidConfigError);
  });
});

describe('server config: the console', () => {
  it('is read-only by default; consoleActions takes true or false only', () => {
    expect(resolveServerConfig({}).consoleActions).toBe(false);
    expect(resolveServerConfig({ consoleActions: true }).consoleActions).toBe(true);
    expect(() => resolveServerConfig({ consoleActions: 'yes' as unknown as boolean })).toThrow(/consoleActions must be true or false, got "yes"/);
  });
});

describe('server config: metrics', () => {
  it('are on by default with a cap of 10,000 partition series per metric, and refuse values of the wrong kind', () => {
    expect(resolveServerConfig({})).toMatchObject({ metrics: true, metricsMaxPartitionSeries: 10_000 });
    expect(resolveServerConfig({ metrics: false, metricsMaxPartitionSeries: 0 })).toMatchObject({ metrics: false, metricsMaxPartitionSeries: 0 });
    expect(() => resolveServerConfig({ metrics: 'no' as unknown as boolean })).toThrow(/metrics must be true or false/);
    expect(() => resolveServerConfig({ metricsMaxPartitionSeries: -1 })).toThrow(InvalidConfigError);
    expect(() => resolveServerConfig({ metricsMaxPartitionSeries: 1.5 })).toThrow(InvalidConfigError);
  });
});

describe('server config: quota defaults', () => {
  it('are {} (no limits) by default, take valid quota values, and refuse unknown keys, bad values and non-objects', () => {
    expect(resolveServerConfig({}).quotas).toEqual({});
    expect(resolveServerConfig({ quotas: { producer_byte_rate: 1_048_576, max_groups: 100 } }).quotas).toEqual({ producer_byte_rate: 1_048_576, max_groups: 100 });
    expect(() => resolveServerConfig({ quotas: { byte_rate: 10 } as never })).toThrow(/quotas: unknown quota 'byte_rate'/);
    expect(() => resolveServerConfig({ quotas: { max_groups: 1.5 } })).toThrow(InvalidConfigError);
    expect(() => resolveServerConfig({ quotas: { producer_byte_rate: 0 } })).toThrow(InvalidConfigError);
    expect(() => resolveServerConfig({ quotas: [] as never })).toThrow(/quotas must be an object/);
    expect(() => resolveServerConfig({ quotas: null as never })).toThrow(/quotas must be an object/);
  });

  it('strata serve --quota KEY=VALUE flags become the same object, and refuse what is not KEY=number', () => {
    expect(quotaDefaultsFromFlags(['producer_byte_rate=1048576', 'max_groups=10', 'max_groups=20'])).toEqual({ producer_byte_rate: 1_048_576, max_groups: 20 });
    expect(() => quotaDefaultsFromFlags(['producer_byte_rate'])).toThrow(/KEY=VALUE/);
    expect(() => quotaDefaultsFromFlags(['producer_byte_rate=fast'])).toThrow(/KEY=VALUE/);
    // Over the config file's quotas key by key; a file value that is not an object is still refused.
    expect(resolveServerConfig({ quotas: { max_groups: 5, max_streams: 7 } }, { quotas: withQuotaFlags({ max_groups: 5, max_streams: 7 }, ['max_groups=9']) as never }).quotas).toEqual({ max_groups: 9, max_streams: 7 });
    expect(() => resolveServerConfig({}, { quotas: withQuotaFlags('fast', ['max_groups=9']) as never })).toThrow(/quotas must be an object/);
    // Unknown keys are the config's to refuse, with the list of known ones.
    expect(() => resolveServerConfig({ quotas: quotaDefaultsFromFlags(['bogus=1']) })).toThrow(/unknown quota 'bogus'/);
  });
});
