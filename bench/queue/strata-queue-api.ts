/**
 * The part of the client's queue API (issue 15's design: client.queue()) the bench uses, as a
 * structural type looked up at run time, so that the bench builds and runs its peers on a tree
 * where client.queue() has not landed yet and says so, instead of failing to compile.
 */
import type { StrataClient } from '../../src/client/strata-client.js';

export interface BenchQueueMessage {
  topic: string;
  partition: number;
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  deliveryCount: number;
  lockDeadlineMs: number;
  ack(): Promise<unknown>;
}

export interface BenchQueueGroupConfig {
  lockDurationMs?: number;
  maxDeliveryAttempts?: number;
  backoffBaseMs?: number;
  backoffFactor?: number;
  backoffMaxMs?: number;
  backoffJitter?: number;
  ordering?: 'none' | 'key';
  delivery?: 'at-least-once' | 'at-most-once';
  start?: 'earliest' | 'latest';
}

export interface BenchQueueOptions {
  groupId: string;
  topics: string[];
  inFlightLimit?: number;
  config?: BenchQueueGroupConfig;
  clientId?: string;
  signal?: AbortSignal;
}

export interface BenchQueue extends AsyncIterable<BenchQueueMessage> {
  close(): Promise<unknown>;
}

export type QueueFactory = (options: BenchQueueOptions) => BenchQueue;

/** client.queue bound to its client, or why there is none. */
export function queueFactoryOf(client: StrataClient): QueueFactory | string {
  const queue = (client as unknown as { queue?: unknown }).queue;
  if (typeof queue !== 'function') return 'this build has no client.queue() (queue groups, issue 15, not merged yet)';
  return (options) => (queue as (o: BenchQueueOptions) => BenchQueue).call(client, options);
}
