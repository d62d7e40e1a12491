import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from '../../src/client/murmur2.js';
import { DefaultPartitioner } from '../../src/client/partitioner.js';

const require = createRequire(import.meta.url);

describe('murmur2 partitioner', () => {
  it("matches Kafka's Utils.murmur2 test vectors", () => {
    // From Kafka's UtilsTest.testMurmur2.
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it("puts every key on the partition kafkajs's Java-compatible partitioner picks", () => {
    const murmur2Kafkajs = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 10_000 }), (bytes, partitionCount) => {
        const key = Buffer.from(bytes);
        expect(murmur2(key)).toBe(murmur2Kafkajs(key));
        expect(partitionForKey(key, partitionCount)).toBe(toPositive(murmur2Kafkajs(key)) % partitionCount);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the same key on the same partition and makes keyless records stick until a batch seals', () => {
    let seed = 1;
    const partitioner = new DefaultPartitioner(() => ((seed = (seed * 16807) % 2147483647) / 2147483647));
    const key = Buffer.from('customer-42');
    const first = partitioner.partition('t', key, 12);
    for (let i = 0; i < 100; i++) expect(partitioner.partition('t', key, 12)).toBe(first);
    const sticky = partitioner.partition('t', null, 12);
    expect(partitioner.partition('t', null, 12)).toBe(sticky);
    partitioner.onBatchSealed('t', sticky);
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const p = partitioner.partition('t', null, 12);
      seen.add(p);
      partitioner.onBatchSealed('t', p);
    }
    expect(seen.size).toBeGreaterThan(3);
  });
});
