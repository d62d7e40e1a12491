import { describe, expect, it } from 'vitest';
import type { StrataClient } from '../../src/client/strata-client.js';
import { METADATA_MAX_AGE_MS, TopicMetadataCache } from '../../src/client/topic-metadata-cache.js';

/** A client whose topic 't' has as many partitions as the test says, counting the describes. */
function describingClient(partitionCount: () => number) {
  let describes = 0;
  const client = {
    admin: {
      describeTopic: async () => {
        describes++;
        return { partitionCount: partitionCount(), config: { 'max.message.bytes': '4096' } };
      },
    },
  } as unknown as StrataClient;
  return { client, describeCount: () => describes };
}

describe('TopicMetadataCache', () => {
  it('loads once, refreshes in the background once the count is older than metadata.max.age, and on request', async () => {
    let partitions = 2;
    let nowMs = 0;
    const { client, describeCount } = describingClient(() => partitions);
    const cache = new TopicMetadataCache(client, { deliveryTimeoutMs: 1_000, retryBackoffMs: 10, isClosed: () => false, nowMs: () => nowMs });
    expect(cache.partitionCount('t')).toBeUndefined();
    expect(await Promise.all([cache.loadPartitionCount('t'), cache.loadPartitionCount('t')])).toEqual([2, 2]);
    expect(describeCount()).toBe(1);
    expect(cache.maxBatchBytes('t')).toBe(4096);
    partitions = 3;
    nowMs = METADATA_MAX_AGE_MS - 1;
    expect(cache.partitionCount('t')).toBe(2);
    expect(describeCount()).toBe(1);
    // Stale: the old count still answers while the new one loads.
    nowMs = METADATA_MAX_AGE_MS + 1;
    expect(cache.partitionCount('t')).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(cache.partitionCount('t')).toBe(3);
    partitions = 5;
    expect(await cache.loadPartitionCount('t', true)).toBe(5);
  });
});
