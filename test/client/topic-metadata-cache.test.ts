import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { StrataClientError } from '../../src/client/client-error.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { ManualClock } from '../../src/core/clock.js';
import { METADATA_MAX_AGE_MS, TopicMetadataCache } from '../../src/client/topic-metadata-cache.js';

/** A client whose topic 't' has as many partitions as the test says, counting the describes. */
function describingClient(partitionCount: () => number, clock: ManualClock) {
  let describes = 0;
  const client = {
    clock,
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
    const clock = new ManualClock(0);
    const { client, describeCount } = describingClient(() => partitions, clock);
    const cache = new TopicMetadataCache(client, { deliveryTimeoutMs: 1_000, retryBackoffMs: 10, isClosed: () => false });
    expect(cache.partitionCount('t')).toBeUndefined();
    expect(await Promise.all([cache.loadPartitionCount('t'), cache.loadPartitionCount('t')])).toEqual([2, 2]);
    expect(describeCount()).toBe(1);
    expect(cache.maxBatchBytes('t')).toBe(4096);
    partitions = 3;
    clock.advance(METADATA_MAX_AGE_MS - 1);
    expect(cache.partitionCount('t')).toBe(2);
    expect(describeCount()).toBe(1);
    // Stale: the old count still answers while the new one loads (the age is looked at every 256 calls).
    clock.advance(2);
    for (let i = 0; i < 256; i++) expect(cache.partitionCount('t')).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(cache.partitionCount('t')).toBe(3);
    partitions = 5;
    expect(await cache.loadPartitionCount('t', true)).toBe(5);
  });

  it('tries a failed refresh again only after another max age, not at every send', async () => {
    const clock = new ManualClock(0);
    let isDeleted = false;
    let describes = 0;
    const client = {
      clock,
      admin: {
        describeTopic: async () => {
          describes++;
          if (isDeleted) throw Object.assign(new Error('no topic t'), { code: 'TOPIC_NOT_FOUND' });
          return { partitionCount: 2, config: {} };
        },
      },
    } as unknown as StrataClient;
    const cache = new TopicMetadataCache(client, { deliveryTimeoutMs: 1_000, retryBackoffMs: 10, isClosed: () => false });
    await cache.loadPartitionCount('t');
    isDeleted = true;
    clock.advance(METADATA_MAX_AGE_MS + 1);
    for (let i = 0; i < 256; i++) cache.partitionCount('t');
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) {
      for (let j = 0; j < 256; j++) cache.partitionCount('t');
      await new Promise((r) => setImmediate(r));
    }
    expect(describes).toBe(2);
    expect(cache.partitionCount('t')).toBe(2);
  });

  it('a describe that finds no connection is asked again after a backoff on the clock, doubling, until deliveryTimeoutMs', async () => {
    const clock = new ManualClock(0);
    const askedAtMs: number[] = [];
    const client = {
      clock,
      admin: {
        describeTopic: async () => {
          askedAtMs.push(clock.nowMs());
          throw new StrataClientError('UNAVAILABLE', 'no connection', grpc.status.UNAVAILABLE, true);
        },
      },
    } as unknown as StrataClient;
    const cache = new TopicMetadataCache(client, { deliveryTimeoutMs: 1_000, retryBackoffMs: 100, isClosed: () => false });
    let outcome: string | undefined;
    void cache.loadPartitionCount('t').then(
      () => (outcome = 'loaded'),
      (error: Error) => (outcome = error.message),
    );
    for (let i = 0; i < 100 && outcome === undefined; i++) {
      await new Promise((r) => setImmediate(r));
      clock.advance(50);
    }
    expect(outcome).toBe('no connection');
    // 100, 200, 400, 800 ms apart: the attempt at 1500 ms is the first past the deadline (1000), and its failure is final.
    expect(askedAtMs).toEqual([0, 100, 300, 700, 1500]);
  });
});
