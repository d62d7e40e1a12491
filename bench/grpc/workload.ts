/**
 * What every step sends: the record shape, the topic layout and the units the results are printed in.
 * Shared so that produce, replay, latency and redis measure the same records.
 */
import type { StrataClient } from '../../src/client/strata-client.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** Rates are decimal: MB/s = 1e6 bytes per second. */
export const MB = 1e6;

export const PARTITIONS = 8;
export const VALUE_BYTES = 100;
export const KEY_COUNT = 10_000;

export const VALUE = Buffer.alloc(VALUE_BYTES, 'v');
export const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => Buffer.from(`key-${String(i).padStart(5, '0')}`));

let topicCounter = 0;
export function topicName(label: string): string {
  return `bench-${label}-${process.pid}-${++topicCounter}`;
}

export async function createTopic(client: StrataClient, topic: string, flush: 'interval' | 'always'): Promise<void> {
  await client.admin.createTopic(topic, { partitions: PARTITIONS, config: { flush } });
}
